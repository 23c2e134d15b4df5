#!/usr/bin/perl
# A Perl AnyEvent::MP 2.02 node for tests/aemp_cli_test.sh (run with -I<oracle>/lib): it is
# configured from the rc file that `aemp` wrote (PERL_ANYEVENT_MP_RC), profile $PROFILE.
#   NODE#echo     answers [args without the reply port] to the last argument (a cal works)
#   NODE#victim   any message kills it with ["killed", args...]
#   db_set aemptest => perl => 1
# Prints "READY <nodeid>" once up, "GOT <json>" per echo message; exits after $LIFETIME s.
use strict;
use warnings;
use AnyEvent;
use AnyEvent::MP;
use AnyEvent::MP::Kernel;
use JSON::XS ();

$| = 1;
my $json = JSON::XS->new->canonical->allow_nonref;
configure profile => $ENV{PROFILE};
rcv "$NODE#echo", sub {
   my @m = @_;
   print "GOT ", $json->encode ([@m]), "\n";
   my $reply = $m[-1];
   if (defined $reply && !ref $reply && $reply =~ /#/) {
      pop @m;
      snd $reply, @m;
   }
};
rcv "$NODE#victim", sub { kil "$NODE#victim", killed => @_ };
db_set aemptest => perl => 1;
print "READY $NODE\n";
my $life = AE::timer (($ENV{LIFETIME} || 30), 0, sub { exit 0 });
AE::cv->recv;
