#!/usr/bin/perl
# A Perl AnyEvent::MP 2.02 node with a certificate, for tests/interop_perl_tls_test.cc.
# Configured from the environment only (no rc file): NODEID, BIND, SEED (optional), CERT_FILE
# (the network's PEM: private key + certificate), MON (optional: a port to monitor after
# 1.5 s), LIFETIME (seconds, default 20). Prints its node events with the TLS role the
# connection took ("connect" = TLS client, "accept" = TLS server), and what its monitor got.
use strict;
use warnings;
use AnyEvent;
use AnyEvent::MP;
use AnyEvent::MP::Kernel;
use JSON::XS ();

$| = 1;
open my $fh, "<", $ENV{CERT_FILE} or die "CERT_FILE: $!";
my $pem = do { local $/; <$fh> };
configure norc => 1, nodeid => $ENV{NODEID}, binds => [$ENV{BIND}],
          seeds => [$ENV{SEED} ? ($ENV{SEED}) : ()], cert => $pem;
print "$NODE: up\n";

mon_nodes sub {
   my ($node, $up, @reason) = @_;
   my $t = $AnyEvent::MP::Kernel::NODE{$node} && $AnyEvent::MP::Kernel::NODE{$node}{transport};
   my $tls = $t && $t->{tls} ? $t->{tls} : "none";
   print "$NODE: node event $node ", ($up ? "up" : "down"), " tls=$tls ", JSON::XS::encode_json ([@reason]), "\n";
};

# echo: ["tag", REPLYPORT] is answered with ["echo_reply", "tag"].
rcv "$NODE#echo", sub {
   my ($tag, $reply) = @_;
   snd $reply, echo_reply => $tag if defined $reply && $reply =~ /#/;
};

my $t = $ENV{MON} && AE::timer 1.5, 0, sub {
   print "$NODE: mon $ENV{MON}\n";
   mon $ENV{MON}, sub { print "$NODE: MON $ENV{MON} fired ", JSON::XS::encode_json ([@_]), "\n" };
};
my $life = AE::timer (($ENV{LIFETIME} || 20), 0, sub { exit 0 });
AE::cv->recv;
