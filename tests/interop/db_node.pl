# A Perl AnyEvent::MP 2.02 node for tests/interop_perl_test.cc's directory test (run with
# -I<oracle>/lib). Configured only from the environment:
#   NODEID, BIND (host:port), SEED (host:port), FRAMING (optional: cbor or json), LIFETIME (s)
#   DBREG=family           registers a port (db_reg) that prints "GOT <json>" for each message
#   DBSET=family,key,json  db_set family => key => value
#   DBMON=family           prints "DBMON <json of [contents, added, changed, deleted]>" at each call
#   SPAWN=node,function    after 1 s: spawn on that node with [our DBREG port] as arguments
#   KILL=portid            after 1 s: kil that port with ["killed_by_perl", 42]
# Every line it prints starts with the node id.
use strict;
use warnings;
use AnyEvent;
use AnyEvent::MP;
use AnyEvent::MP::Kernel;
use JSON::XS ();

$| = 1;
my $json = JSON::XS->new->canonical->allow_nonref;
my @framing = $ENV{FRAMING} ? (framing_format => [$ENV{FRAMING}]) : ();
configure norc => 1, nodeid => $ENV{NODEID}, binds => [$ENV{BIND}], seeds => [$ENV{SEED}],
          secret => "interop-test-secret", @framing;
print "$NODE: up\n";

my $port;
if ($ENV{DBREG}) {
   $port = port { print "$NODE: GOT ", $json->encode ([@_]), "\n" };
   db_reg $ENV{DBREG} => $port;
   print "$NODE: REG $port\n";
}
if ($ENV{DBSET}) {
   my ($family, $key, $value) = split /,/, $ENV{DBSET}, 3;
   db_set $family => $key => $json->decode ($value);
}
if ($ENV{DBMON}) {
   db_mon $ENV{DBMON} => sub { print "$NODE: DBMON ", $json->encode ([@_]), "\n" };
}

my $later = AE::timer 1, 0, sub {
   if ($ENV{SPAWN}) {
      my ($node, $function) = split /,/, $ENV{SPAWN}, 2;
      my $spawned = spawn $node, $function, $port;
      print "$NODE: SPAWNED $spawned\n";
   }
   if ($ENV{KILL}) {
      kil $ENV{KILL}, killed_by_perl => 42;
      print "$NODE: KILLED $ENV{KILL}\n";
   }
};

my $life = AE::timer (($ENV{LIFETIME} || 20), 0, sub { exit 0 });
AE::cv->recv;
