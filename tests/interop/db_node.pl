# A Perl AnyEvent::MP 2.02 node for tests/interop_perl_test.cc's directory test (run with
# -I<oracle>/lib). Configured only from the environment:
#   NODEID, BIND (host:port), SEED (host:port), FRAMING (optional: cbor or json), LIFETIME (s)
#   DBREG=family           registers a port (db_reg) that prints "GOT <json>" for each message
#   DBSET=family,key,json  db_set family => key => value
#   DBMON=family           prints "DBMON <json of [contents, added, changed, deleted]>" at each call
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

if ($ENV{DBREG}) {
   my $port = port { print "$NODE: GOT ", $json->encode ([@_]), "\n" };
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

my $life = AE::timer (($ENV{LIFETIME} || 20), 0, sub { exit 0 });
AE::cv->recv;
