#!/bin/bash
# The aemp tool end to end: aemp_cli_test.sh AEMP TEST_NODE ORACLE_DIR SOURCE_DIR
# Config commands on a temporary HOME (read back by showconfig/showprofile, by a sluice node
# and by the Perl oracle), bad input leaving the file byte-identical, gencert accepted by
# configure (TLS) and by Perl, snd/cal/mon/db/nodes/ping/trace against a sluice node and a
# Perl node, and `aemp seed` as the seed of both. Loopback, TCP ports 14300-14399; every wait
# is bounded (timeout(1) around each command). Perl parts print "skipped" without the oracle.
set -u
AEMP=$1 TNODE=$2 ORACLE=${3:-} SRC=$4
T=$(mktemp -d /tmp/aemp_cli.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
export HOME=$T/home
mkdir -p "$HOME"
unset PERL_ANYEVENT_MP_RC SLUICE_NODE_LOG
RC=$HOME/.perl-anyevent-mp
FAILS=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# run DESC EXPECTED_RC CMD...: output in $T/out
run() {
  local desc=$1 want=$2; shift 2
  timeout 60 "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok "$desc (rc $rc)"; else bad "$desc: rc $rc, wanted $want; stdout: $(cat "$T/out") stderr: $(cat "$T/err")"; fi
}
has() { if grep -q -- "$2" "$T/out"; then ok "$1"; else bad "$1: no \"$2\" in: $(cat "$T/out") / $(cat "$T/err")"; fi; }
jcheck() {  # jcheck DESC FILE PYTHON-EXPR over j
  if python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($3) else 1)" "$2"; then ok "$1"; else bad "$1: $(cat "$2")"; fi
}
PERL=""
if [ -n "$ORACLE" ] && [ -f "$ORACLE/lib/AnyEvent/MP/Config.pm" ] && perl -I"$ORACLE/lib" -MAnyEvent::MP -e1 2>/dev/null; then
  PERL="perl -I$ORACLE/lib"
else
  echo "skipped: the Perl oracle (../shared/oracles/aemp-perl) is missing: Perl checks are skipped"
fi
wait_line() {  # wait_line FILE TEXT SECONDS
  for _ in $(seq 1 $((${3} * 10))); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

echo "== help and bad usage"
run "help" 0 "$AEMP" help
for c in setsecret gensecret delsecret setcert gencert delcert setseeds addseed delseed setbinds addbind delbind \
         setnodeid setparent showprofile showconfig snd cal mon nodes db ping trace seed; do has "help lists $c" "$c"; done

echo "== config commands"
run "write top level and profiles" 0 "$AEMP" setsecret s3cret setseeds 127.0.0.1:14310 \
  profile nodeA setnodeid nodeA setbinds 127.0.0.1:14310 monitor_timeout 7 setframing_format json,cbor \
  profile child setparent nodeA nodeid child addbind 127.0.0.1:14311 addbind 127.0.0.1:14312 delbind 127.0.0.1:14311 \
  profile aemp setbinds 127.0.0.1:*
[ -f "$RC" ] && ok "file written" || bad "no file $RC"
ls "$HOME" | grep -q aemp- && bad "a temporary file was left" || ok "no temporary file left"
run "showconfig --json" 0 "$AEMP" --json showconfig
cp "$T/out" "$T/cfg.json"
jcheck "showconfig has the values" "$T/cfg.json" 'j["secret"]=="s3cret" and j["seeds"]==["127.0.0.1:14310"] and j["version"]==1 and j["profile"]["nodeA"]["monitor_timeout"]==7 and j["profile"]["nodeA"]["framing_format"]==["json","cbor"] and j["profile"]["child"]["binds"]==["127.0.0.1:14312"] and j["profile"]["child"]["parent"]=="nodeA"'
run "showprofile child --json" 0 "$AEMP" --json showprofile child
cp "$T/out" "$T/child.json"
jcheck "precedence: child over parent over top level over defaults" "$T/child.json" 'j["nodeid"]=="child" and j["binds"]==["127.0.0.1:14312"] and j["monitor_timeout"]==7 and j["secret"]=="s3cret" and j["connect_interval"]==2'
run "showprofile (human)" 0 "$AEMP" showprofile nodeA
has "human showprofile is pretty JSON" '"nodeid": "nodeA"'
run "unknown keys kept" 0 python3 -c "
import json,sys; p=sys.argv[1]; j=json.load(open(p)); j['x_unknown']={'keep':[1,2]}; open(p,'w').write(json.dumps(j))" "$RC"
run "edit again" 0 "$AEMP" delsecret setsecret s3cret connect_interval 1.5 setnodelay 1 setservices '["a","b"]' auth_offer hmac_sha3_512
run "read again" 0 "$AEMP" --json showconfig
cp "$T/out" "$T/cfg2.json"
jcheck "unknown key kept, typed values" "$T/cfg2.json" 'j["x_unknown"]=={"keep":[1,2]} and j["connect_interval"]==1.5 and j["nodelay"]==1 and j["services"]==["a","b"] and j["auth_offer"]==["hmac_sha3_512"]'
run "delete options again" 0 "$AEMP" delconnect_interval delnodelay delservices delauth_offer
run "del of a key aemp does not know is an unknown command" 2 "$AEMP" delx_unknown
grep -q x_unknown "$RC" && ok "unknown key still kept" || bad "unknown key lost"
run "remove the unknown key by hand" 0 python3 -c "
import json,sys; p=sys.argv[1]; j=json.load(open(p)); j.pop('x_unknown',None); open(p,'w').write(json.dumps(j,indent=3))" "$RC"

echo "== bad input leaves the file byte-identical"
cp "$RC" "$T/before"
run "unknown command" 2 "$AEMP" setsecret other frobnicate
grep -q "unknown command" "$T/err" && ok "clear message for an unknown command" || bad "message: $(cat "$T/err")"
cmp -s "$RC" "$T/before" && ok "file untouched after unknown command" || bad "file changed after unknown command"
run "missing argument" 2 "$AEMP" profile nodeA setseeds
grep -q "missing argument" "$T/err" && ok "clear message for a missing argument" || bad "message: $(cat "$T/err")"
cmp -s "$RC" "$T/before" && ok "file untouched after missing argument" || bad "file changed after missing argument"
run "malformed JSON argument" 2 "$AEMP" setservices '[1,'
cmp -s "$RC" "$T/before" && ok "file untouched after malformed argument" || bad "file changed after malformed argument"
run "setcert of a non-PEM" 2 "$AEMP" setcert /etc/hostname
cmp -s "$RC" "$T/before" && ok "file untouched after a bad cert" || bad "file changed after a bad cert"
printf '{ "secret": "x", # comment\n  "seeds": [1,, }\n' >"$T/malformed"
cp "$T/malformed" "$T/malformed.orig"
run "malformed rc file" 1 env PERL_ANYEVENT_MP_RC="$T/malformed" "$AEMP" setsecret y
grep -q "line" "$T/err" && ok "message names the line" || bad "message: $(cat "$T/err")"
cmp -s "$T/malformed" "$T/malformed.orig" && ok "malformed file untouched" || bad "malformed file changed"
printf '{ "secret": "x", # relaxed: comments and end commas\n  "seeds": ["127.0.0.1:14399",],\n}\n' >"$T/relaxed"
run "relaxed file (Perl's JSON::XS relaxed) is read and rewritten" 0 env PERL_ANYEVENT_MP_RC="$T/relaxed" "$AEMP" addseed 127.0.0.1:14398
jcheck "relaxed file rewritten as JSON" "$T/relaxed" 'j["seeds"]==["127.0.0.1:14399","127.0.0.1:14398"] and j["secret"]=="x"'

echo "== read back by Perl"
if [ -n "$PERL" ]; then
  for p in child nodeA aemp; do
    $PERL -MAnyEvent::MP::Config -MJSON::XS -e 'print JSON::XS->new->canonical->encode(AnyEvent::MP::Config::find_profile($ARGV[0]))' "$p" >"$T/perl_$p.json" 2>"$T/err"
    "$AEMP" --json showprofile "$p" >"$T/aemp_$p.json"
    if python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if a==b else 1)" "$T/perl_$p.json" "$T/aemp_$p.json"; then
      ok "Perl's find_profile($p) equals aemp showprofile $p"
    else bad "Perl's find_profile($p) differs: $(cat "$T/perl_$p.json") vs $(cat "$T/aemp_$p.json") $(cat "$T/err")"; fi
  done
else echo "skipped: Perl reads the file"; fi

echo "== read back by a sluice node"
run "sluice configure from profile child" 0 "$TNODE" --check child
has "node id from the profile" "CONFIGURED child"
run "sluice configure from profile aemp (nodeid aemp/ + random)" 0 "$TNODE" --check aemp
has "aemp/ node id" "CONFIGURED aemp/"

echo "== gensecret, gencert"
TLSRC=$T/tls.rc
run "gensecret and gencert in a profile (PERL_ANYEVENT_MP_RC)" 0 env PERL_ANYEVENT_MP_RC="$TLSRC" "$AEMP" gensecret setseeds 127.0.0.1:14320 profile tlsA gencert setnodeid tlsA setbinds 127.0.0.1:14320
[ -f "$TLSRC" ] && [ ! -f "$RC.unused" ] && ok "PERL_ANYEVENT_MP_RC honoured" || bad "no $TLSRC"
jcheck "secret 86 alphanumerics, cert has key and certificate" "$TLSRC" '__import__("re").fullmatch("[0-9A-Za-z]{86}", j["secret"]) and "PRIVATE KEY-----" in j["profile"]["tlsA"]["cert"] and "BEGIN CERTIFICATE" in j["profile"]["tlsA"]["cert"]'
python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['profile']['tlsA']['cert'], end='')" "$TLSRC" >"$T/cert.pem"
if command -v openssl >/dev/null; then
  openssl x509 -in "$T/cert.pem" -noout -subject 2>/dev/null | grep -q "AnyEvent::MP" && ok "certificate CN AnyEvent::MP" || bad "certificate subject"
fi
run "setcert FILE (the generated PEM) in other profiles; delsecret: TLS is the only way in" 0 env PERL_ANYEVENT_MP_RC="$TLSRC" "$AEMP" delsecret \
  profile aemp setcert "$T/cert.pem" setbinds 127.0.0.1:* profile tlsP setcert "$T/cert.pem" setnodeid tlsP setbinds 127.0.0.1:14321
run "sluice configure accepts the generated cert" 0 env PERL_ANYEVENT_MP_RC="$TLSRC" "$TNODE" --check tlsA
if [ -n "$PERL" ]; then
  run "Perl AnyEvent::TLS accepts the generated cert as cert and CA" 0 env PERL_ANYEVENT_MP_RC="$TLSRC" $PERL -MAnyEvent::MP::Config -MAnyEvent::TLS -e '
    my $c = AnyEvent::MP::Config::find_profile("tlsA")->{cert} or die "no cert";
    AnyEvent::TLS->new(cert => $c, ca_cert => $c, verify => 1, verify_require_client_cert => 1); print "tls ok\n"'
else echo "skipped: Perl accepts the cert"; fi
PERL_ANYEVENT_MP_RC="$TLSRC" "$TNODE" tlsA 40 >"$T/tlsnode.log" 2>&1 &
PIDS+=($!)
if wait_line "$T/tlsnode.log" READY 20; then
  run "aemp ping over TLS (cert only from the file)" 0 env PERL_ANYEVENT_MP_RC="$TLSRC" "$AEMP" --timeout 10 ping tlsA
  run "aemp cal over TLS" 0 env PERL_ANYEVENT_MP_RC="$TLSRC" "$AEMP" --json cal tlsA#echo tls
  has "TLS cal reply" '\["tls"\]'
else bad "TLS sluice node did not start: $(cat "$T/tlsnode.log")"; fi
if [ -n "$PERL" ]; then
  PERL_ANYEVENT_MP_RC="$TLSRC" PROFILE=tlsP LIFETIME=40 $PERL "$SRC/interop/aemp_node.pl" >"$T/tlsP.log" 2>&1 &
  PIDS+=($!)
  if wait_line "$T/tlsP.log" "READY tlsP" 20; then
    sleep 1
    run "aemp cal a Perl node over TLS (the generated cert)" 0 env PERL_ANYEVENT_MP_RC="$TLSRC" "$AEMP" --json cal tlsP#echo tls
    has "Perl TLS cal reply" '\["tls"\]'
  else bad "TLS Perl node did not start: $(cat "$T/tlsP.log")"; fi
else echo "skipped: aemp against a Perl node over TLS"; fi
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
PIDS=()

echo "== network against a sluice node"
"$TNODE" nodeA 60 >"$T/nodeA.log" 2>&1 &
PIDS+=($!)
if wait_line "$T/nodeA.log" "READY nodeA" 20; then
  run "ping" 0 "$AEMP" ping nodeA
  has "ping prints the round trip" "round trip"
  run "ping --json" 0 "$AEMP" --json ping nodeA
  jcheck "ping json" "$T/out" 'j["node"]=="nodeA" and j["rtt_ms"]>=0'
  run "cal prints the reply" 0 "$AEMP" --json cal nodeA#echo hello '{"a":1}' 42
  jcheck "cal reply, JSON and string args" "$T/out" 'j==["hello",{"a":1},"42"]'
  run "cal human" 0 "$AEMP" cal nodeA#echo hi '[1]'
  has "cal human output" "hi \[1\]"
  run "snd" 0 "$AEMP" snd nodeA#echo sent-by-aemp '"quoted"'
  wait_line "$T/nodeA.log" 'GOT \["sent-by-aemp","quoted"\]' 5 && ok "snd delivered" || bad "snd not seen: $(cat "$T/nodeA.log")"
  "$AEMP" --json --timeout 15 mon nodeA#victim >"$T/mon.out" 2>"$T/mon.err" &
  MON=$!
  sleep 2
  run "snd to the victim" 0 "$AEMP" snd nodeA#victim bye
  wait "$MON"; MRC=$?
  [ "$MRC" = 0 ] && ok "mon ended when the port died" || bad "mon rc $MRC: $(cat "$T/mon.out" "$T/mon.err")"
  grep -q '\["killed","bye"\]' "$T/mon.out" && ok "mon prints the reason" || bad "mon reason: $(cat "$T/mon.out")"
  run "mon of a port that does not exist" 0 "$AEMP" mon nodeA#nosuchport
  has "no_such_port" "no_such_port"
  run "db" 0 "$AEMP" --json db aemptest
  jcheck "db family" "$T/out" 'j.get("sluice")==1'
  run "nodes" 0 "$AEMP" nodes
  has "nodes lists nodeA" "nodeA 127.0.0.1:14310"
  run "trace" 0 "$AEMP" --timeout 2 trace nodeA
  has "trace pings" "ping nodeA"
  run "ping timeout" 3 "$AEMP" --timeout 1 ping nosuchnode
  run "cal timeout" 3 "$AEMP" --timeout 1 cal nodeA#nosuchport x
  run "bad port id" 2 "$AEMP" snd nohash x
else bad "sluice node did not start: $(cat "$T/nodeA.log")"; fi

echo "== network against a Perl node"
if [ -n "$PERL" ]; then
  run "profile for the Perl node" 0 "$AEMP" profile perlB setnodeid perlB setbinds 127.0.0.1:14315
  PROFILE=perlB LIFETIME=60 $PERL "$SRC/interop/aemp_node.pl" >"$T/perlB.log" 2>&1 &
  PIDS+=($!)
  if wait_line "$T/perlB.log" "READY perlB" 20; then
    sleep 1
    run "ping Perl" 0 "$AEMP" ping perlB
    run "cal Perl" 0 "$AEMP" --json cal perlB#echo hello '{"a":1}'
    jcheck "Perl cal reply" "$T/out" 'j==["hello",{"a":1}]'
    run "snd Perl" 0 "$AEMP" snd perlB#echo to-perl
    wait_line "$T/perlB.log" 'GOT \["to-perl"\]' 5 && ok "snd delivered to Perl" || bad "Perl did not get it: $(cat "$T/perlB.log")"
    "$AEMP" --json --timeout 15 mon perlB#victim >"$T/mon.out" 2>"$T/mon.err" &
    MON=$!
    sleep 2
    run "snd to the Perl victim" 0 "$AEMP" snd perlB#victim bye
    wait "$MON"; MRC=$?
    [ "$MRC" = 0 ] && grep -q '"killed"' "$T/mon.out" && ok "mon of a Perl port prints the reason" || bad "Perl mon rc $MRC: $(cat "$T/mon.out" "$T/mon.err")"
    run "db sees the Perl entry" 0 "$AEMP" --json db aemptest
    jcheck "db family with both" "$T/out" 'j.get("perl")==1 and j.get("sluice")==1'
    run "nodes lists Perl" 0 "$AEMP" nodes
    has "perlB in nodes" "perlB"
  else bad "Perl node did not start: $(cat "$T/perlB.log")"; fi
else echo "skipped: aemp against a Perl node"; fi
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
PIDS=()

echo "== aemp seed"
SEEDRC=$T/seed.rc
export PERL_ANYEVENT_MP_RC=$SEEDRC
run "seed profiles" 0 "$AEMP" setsecret seedsecret setseeds 127.0.0.1:14330 profile aemp setbinds 127.0.0.1:* \
  profile myseed setbinds 127.0.0.1:14330 delseeds profile s1 setnodeid s1 setbinds 127.0.0.1:14331 \
  profile p1 setnodeid p1 setbinds 127.0.0.1:14332
run "seed without a fixed bind is refused" 2 "$AEMP" seed profile aemp
"$AEMP" seed profile myseed >"$T/seed.log" 2>"$T/seed.err" &
SEED=$!
PIDS+=($SEED)
if wait_line "$T/seed.log" "seed myseed/" 20; then
  ok "seed started"
  PERLP=""
  if [ -n "$PERL" ]; then
    PROFILE=p1 LIFETIME=60 $PERL "$SRC/interop/aemp_node.pl" >"$T/p1.log" 2>&1 &
    PERLP=$!; PIDS+=($PERLP)
    wait_line "$T/p1.log" "READY p1" 20 || bad "Perl node p1 did not start: $(cat "$T/p1.log")"
    "$TNODE" s1 60 p1#echo >"$T/s1.log" 2>&1 &
  else
    "$TNODE" s1 60 >"$T/s1.log" 2>&1 &
  fi
  PIDS+=($!)
  wait_line "$T/s1.log" "READY s1" 20 || bad "sluice node s1 did not start: $(cat "$T/s1.log")"
  if [ -n "$PERL" ]; then
    wait_line "$T/s1.log" "REACHED" 20 && ok "the sluice node reached the Perl node through the seed" || bad "s1 never reached p1: $(cat "$T/s1.log")"
  fi
  wait_line "$T/seed.log" "directory s1 listens" 10 && ok "seed logs directory changes" || bad "seed log: $(cat "$T/seed.log")"
  run "nodes via the seed" 0 "$AEMP" nodes
  has "s1 in nodes" "s1 127.0.0.1:14331"
  [ -n "$PERL" ] && has "p1 in nodes" "p1 127.0.0.1:14332"
  grep -q . "$T/seed.err" && ok "seed logs connections (stderr)" || bad "no connection log"
  kill -TERM "$SEED"
  wait "$SEED"; SRC_RC=$?
  [ "$SRC_RC" = 0 ] && ok "SIGTERM ends aemp seed with exit 0" || bad "seed exit $SRC_RC: $(cat "$T/seed.err" | tail -5)"
  grep -q "stopping (SIGTERM)" "$T/seed.log" && ok "seed logs the stop" || bad "no stop line"
else bad "seed did not start: $(cat "$T/seed.log" "$T/seed.err")"; fi
unset PERL_ANYEVENT_MP_RC

echo "== sanitizer reports in the nodes' and the seed's logs"
if grep -l -E "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$T"/*.log "$T"/*.err 2>/dev/null; then
  bad "sanitizer reports in the logs above"
else ok "no sanitizer reports in the logs"; fi

echo
if [ "$FAILS" = 0 ]; then echo "aemp_cli_test: all passed"; exit 0; fi
echo "aemp_cli_test: $FAILS failed"; exit 1
