// Ports, monitors, spawn and selective receive (sluice/mp.hpp).
#include <sluice/mp.hpp>
#include <sluice/node.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <thread>
#include <unordered_set>
#include <vector>

#include <sluice/channel.hpp>

#include "test_guard.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using namespace sluice::mp;
using sluice::channel;

namespace {

// A monitor whose reason the test can wait for.
channel<message> watch(const port_id& p) {
  channel<message> deaths(sluice::unbounded);
  mon(p, [deaths](const message& reason) mutable { deaths.send(reason); });
  return deaths;
}
message wait_death(channel<message>& deaths) {
  auto r = deaths.recv_for(5s);
  EXPECT_TRUE(r) << "the port did not die";
  return r ? *r : message();
}

}  // namespace

TEST(PortId, PrintsParsesHashesAndCompares) {
  port_id p = port();
  EXPECT_EQ(p.node(), node_id());
  EXPECT_EQ(p.str(), node_id() + "#" + std::to_string(p.id()));
  EXPECT_EQ(port_id::parse(p.str()), p);
  port_id copy = p;
  EXPECT_EQ(std::hash<port_id>{}(copy), std::hash<port_id>{}(p));
  std::unordered_set<port_id> set{p, copy};
  EXPECT_EQ(set.size(), 1u);
  EXPECT_THROW(port_id::parse("no-hash"), std::invalid_argument);
  EXPECT_THROW(port_id::parse("#12"), std::invalid_argument);
  EXPECT_THROW(port_id::parse("node#"), std::invalid_argument);
  // AnyEvent::MP port names are strings (random alphanumerics, or words for well-known ports),
  // split from the node at the first '#'.
  port_id perl = port_id::parse("nodeA#zUUH6C0FLb");
  EXPECT_EQ(perl.node(), "nodeA");
  EXPECT_EQ(perl.name(), "zUUH6C0FLb");
  EXPECT_EQ(perl.id(), 0u);
  EXPECT_TRUE(perl.valid());
  EXPECT_EQ(port_id::parse("a#b#c").name(), "b#c");
  EXPECT_EQ(port_id::parse("n#42"), port_id("n", 42));
  EXPECT_EQ(port_id::parse("n#042").id(), 0u) << "not the number 42: a name";
  message m = {"ping", p};
  EXPECT_TRUE(m[1].is_string());
  EXPECT_EQ(m[1].get<port_id>(), p);
  kil(p);
}

TEST(PortId, NeverReused) {
  port_id a = port();
  kil(a);
  port_id b = port();
  EXPECT_NE(a, b);
  EXPECT_GT(b.id(), a.id());
  kil(b);
}

TEST(Self, OutsideAPortContextThrowsLogicError) { EXPECT_THROW((void)self(), std::logic_error); }

TEST(Ports, DefaultHandlerInArrivalOrderWithSelf) {
  channel<message> got(sluice::unbounded);
  port_id p;
  p = port([got](const message& m) mutable { got.send(message::array({m, self()})); });
  for (int i = 0; i < 1000; ++i) snd(p, {"n", i});
  for (int i = 0; i < 1000; ++i) {
    auto r = got.recv_for(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)[0][1], i);
    EXPECT_EQ((*r)[1].get<port_id>(), p);
  }
  kil(p);
}

TEST(Ports, TagHandlerGetsMessageWithoutTagAndCanBeUnregistered) {
  channel<message> got(sluice::unbounded);
  port_id p = port();
  rcv(p, "add", [got](const message& rest) mutable { got.send(rest); });
  auto deaths = watch(p);
  snd(p, {"add", 1, 2});
  auto r = got.recv_for(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, message::array({1, 2}));
  rcv(p, "add", nullptr);  // unregister: the next "add" finds no handler and kills the port
  snd(p, {"add", 3});
  message reason = wait_death(deaths);
  ASSERT_TRUE(reason.is_array());
  EXPECT_EQ(reason[0], "die");
}

// Small messages travel packed and are unpacked over the one before (src/mp/packed.hpp): a
// handler sees each exactly as sent, value types included, whatever shape came before it,
// through the default handler and through tag handlers alike.
TEST(Ports, SmallAndLargeMessagesArriveExactlyWithTheirValueTypes) {
  const std::vector<message> sent = {
      {"n", 1},
      {"n", -1},
      {"n", 1u},
      {"n", 1.0},
      message::array({"n", std::string(200, 'x')}),  // too big to pack: a tree
      {"n", "short"},
      message::array(),
      message::object({{"k", {1, 2u, -3, 4.5}}}),
      message::array({"n", message::array({nullptr, true, false})}),
      message::array({"t", 7, "tagged"}),
      message::array({"n", std::uint64_t{1} << 63}),
      message::binary({1, 2}),
      message::array({"t", std::string(100, 'y')}),
      message::array({"t"}),
      "just a string",
  };
  channel<message> got(sluice::unbounded);
  port_id p = port([got](const message& m) mutable { got.send(m); });
  rcv(p, "t", [got](const message& rest) mutable { got.send(message::array({"via t", rest})); });
  for (int round = 0; round < 3; ++round) {
    for (const auto& m : sent) snd(p, m);
  }
  for (int round = 0; round < 3; ++round) {
    for (const auto& m : sent) {
      auto r = got.recv_for(5s);
      ASSERT_TRUE(r);
      message want = m;
      if (m.is_array() && !m.empty() && m[0] == "t") {
        message rest = m;
        rest.erase(rest.begin());
        want = message::array({"via t", rest});
      }
      EXPECT_EQ(*r, want);
      EXPECT_EQ(r->dump(), want.dump()) << "the same value types (1, 1u and 1.0 print alike, so also:)";
      if (m.is_array() && m.size() == 2 && m[1].is_number()) {
        EXPECT_EQ((*r)[1].type(), m[1].type()) << m.dump();
      }
    }
  }
  kil(p);
}

// A handler, and what it captured, is destroyed outside the port's lock: a captured object
// whose destructor calls rcv on the same port must not deadlock, whether the last reference
// goes in rcv (replaced), in the worker (its copy refreshed) or in kil.
TEST(Ports, AHandlerLetGoMayCallRcvOnItsPortWhenDestroyed) {
  sluice_test::watchdog wd;  // a deadlock ends the run naming this test, instead of hanging it
  auto destroyed = std::make_shared<std::atomic<int>>(0);
  struct touches_port {
    touches_port(port_id q, std::shared_ptr<std::atomic<int>> n) : p(q), count(std::move(n)) {}
    ~touches_port() {
      rcv(p, "unused", nullptr);  // takes the port's lock
      ++*count;
    }
    port_id p;
    std::shared_ptr<std::atomic<int>> count;
  };
  channel<message> got(sluice::unbounded);
  port_id p = port();
  auto handler = [&](int generation) {
    auto t = std::make_shared<touches_port>(p, destroyed);
    return [t, got, generation](const message& m) mutable { got.send(message::array({generation, m})); };
  };
  rcv(p, handler(1));
  rcv(p, handler(2));  // generation 1 never ran: its last reference goes in rcv
  snd(p, {"a"});
  auto r = got.recv_for(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0], 2);
  rcv(p, handler(3));  // generation 2 is still the worker's copy: it goes at the next refresh
  snd(p, {"b"});
  r = got.recv_for(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0], 3);
  rcv(p, "tag", handler(4));
  kil(p);  // generations 3 (after the worker lets go of its copy) and 4 go here
  for (int i = 0; i < 100 && destroyed->load() < 3; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_GE(destroyed->load(), 3);  // 1, 2 and 4 at least; 3 with the worker's copy, whenever that goes
}

TEST(Ports, PortWithoutHandlerDiesOnAMessage) {
  port_id p = port();
  auto deaths = watch(p);
  snd(p, {"hello"});
  EXPECT_EQ(wait_death(deaths)[0], "die");
}

TEST(Ports, HandlersOfOnePortRunOneAtATime) {
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::atomic<long> handled{0};
  port_id p = port([&](const message&) {
    if (inside.fetch_add(1) != 0) overlap = true;
    std::this_thread::yield();
    inside.fetch_sub(1);
    handled.fetch_add(1);
  });
  std::vector<std::thread> ts;
  const long per = sluice_test::scaled(2000);
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (long i = 0; i < per; ++i) snd(p, {"x"});
    });
  }
  for (auto& t : ts) t.join();
  while (handled.load() < 4 * per) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(overlap.load());
  kil(p);
}

TEST(Ports, OrderPerSenderUnderManySenders) {
  std::vector<long> last(4, -1);
  std::atomic<bool> ordered{true};
  std::atomic<long> handled{0};
  port_id p = port([&](const message& m) {
    int s = m[0];
    long i = m[1];
    if (i <= last[s]) ordered = false;  // handlers run one at a time: no race on `last`
    last[s] = i;
    handled.fetch_add(1);
  });
  const long per = sluice_test::scaled(3000);
  std::vector<std::thread> ts;
  for (int s = 0; s < 4; ++s) {
    ts.emplace_back([&, s] {
      for (long i = 0; i < per; ++i) snd(p, {s, i});
    });
  }
  for (auto& t : ts) t.join();
  while (handled.load() < 4 * per) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(ordered.load());
  kil(p);
}

TEST(Ports, MessagesBetweenTwoPortsKeepTheirOrder) {
  channel<long> got(sluice::unbounded);
  port_id sink = port([got](const message& m) mutable { got.send(m[1].get<long>()); });
  port_id relay = port([sink](const message& m) { snd(sink, m); });
  for (long i = 0; i < 500; ++i) snd(relay, {"n", i});
  for (long i = 0; i < 500; ++i) EXPECT_EQ(*got.recv_for(5s), i);
  kil(relay);
  kil(sink);
}

TEST(Ports, ExceptionInHandlerKillsWithDie) {
  port_id p = port([](const message&) { throw std::runtime_error("boom"); });
  auto deaths = watch(p);
  snd(p, {"x"});
  EXPECT_EQ(wait_death(deaths), message::array({"die", "boom"}));
}

TEST(Ports, SndToDeadPortIsDropped) {
  std::atomic<int> calls{0};
  port_id p = port([&](const message&) { calls++; });
  kil(p);
  snd(p, {"x"});
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(calls.load(), 0);
}

// Senders look ports up through a per-thread cache; a name taken again once its port died
// must reach the new port from every thread, including one whose cache held the old port.
TEST(Ports, ANameTakenAgainAfterItsPortDiedGetsTheMessages) {
  channel<int> got(sluice::unbounded);
  port_id first = named_port("taken-again", [got](const message&) mutable { got.send(1); });
  channel<int> go;
  std::thread other([&] {
    snd(first, {"x"});  // this thread's cache now holds the first port
    (void)go.recv();
    snd(first, {"x"});  // the name's second port
  });
  snd(first, {"x"});
  EXPECT_EQ(got.recv_for(5s).value_or(0), 1);
  EXPECT_EQ(got.recv_for(5s).value_or(0), 1);
  kil(first);
  port_id second = named_port("taken-again", [got](const message&) mutable { got.send(2); });
  EXPECT_EQ(second, first);
  snd(first, {"x"});
  EXPECT_EQ(got.recv_for(5s).value_or(0), 2);
  go.send(1);
  other.join();
  EXPECT_EQ(got.recv_for(5s).value_or(0), 2);
  kil(second);
}

// A port owns each message once its handler returned and empties it before freeing it (to
// spare an allocation), to a bounded depth: a deep message goes through whole.
TEST(Ports, ADeepMessageIsDeliveredWholeAndFreed) {
  channel<std::size_t> depth(sluice::unbounded);
  port_id p = port([depth](const message& m) mutable {
    std::size_t d = 0;
    for (const message* x = &m; x->is_array() && !x->empty(); x = &(*x)[0]) ++d;
    depth.send(d);
  });
  message deep = message::array({1});
  for (int i = 0; i < 200; ++i) deep = message::array({deep, message::object({{"k", message::array({i})}})});
  snd(p, deep);
  EXPECT_EQ(depth.recv_for(5s).value_or(0), 201u);
  kil(p);
}

TEST(Ports, BoundOverflowKillsWithOverflow) {
  channel<int> gate;  // the handler blocks until the test lets it go
  port_id p = port([gate](const message&) mutable { (void)gate.recv(); });
  set_bound(p, 10);
  auto deaths = watch(p);
  for (int i = 0; i < 30; ++i) snd(p, {"x", i});
  EXPECT_EQ(wait_death(deaths), message::array({"overflow"}));
  gate.close();
}

TEST(Monitors, NormalDeath) {
  port_id p = port();
  port_id other = port([](const message&) {});
  auto deaths = watch(p);
  mon(p, other);  // normal death: does nothing to other
  channel<message> relayed(sluice::unbounded);
  port_id sink = port([relayed](const message& m) mutable { relayed.send(m); });
  mon(p, sink, message::array({"died", 7}));
  kil(p);
  EXPECT_EQ(wait_death(deaths), message::array());
  auto r = relayed.recv_for(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, message::array({"died", 7}));
  auto other_deaths = watch(other);
  EXPECT_FALSE(other_deaths.recv_for(50ms)) << "mon(p, other) must not act on a normal death";
  kil(other);
  kil(sink);
}

TEST(Monitors, AbnormalDeathFiresEveryForm) {
  port_id p = port();
  port_id other = port([](const message&) {});
  channel<message> relayed(sluice::unbounded);
  port_id sink = port([relayed](const message& m) mutable { relayed.send(m); });
  auto deaths = watch(p);
  auto other_deaths = watch(other);
  mon(p, other);
  mon(p, sink, message::array({"died"}));
  kil(p, {"bored", 1});
  EXPECT_EQ(wait_death(deaths), message::array({"bored", 1}));
  EXPECT_EQ(wait_death(other_deaths), message::array({"bored", 1}));
  EXPECT_EQ(*relayed.recv_for(5s), message::array({"died", "bored", 1}));
  kil(sink);
}

TEST(Monitors, OnNoSuchPortFiresPromptly) {
  port_id p = port();
  kil(p);
  auto deaths = watch(p);
  EXPECT_EQ(wait_death(deaths), message::array({"no_such_port"}));
}

TEST(Monitors, OneShotAndCancel) {
  std::atomic<int> fired{0};
  port_id p = port();
  monitor m = mon(p, [&](const message&) { fired++; });
  m.cancel();
  auto deaths = watch(p);
  kil(p, {"x"});
  kil(p, {"again"});  // a port dies once
  EXPECT_EQ(wait_death(deaths), message::array({"x"}));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(fired.load(), 0);
}

TEST(Monitors, KilRacingMonFiresExactlyOnce) {
  const int rounds = static_cast<int>(sluice_test::scaled(300));
  std::atomic<int> fired{0};
  for (int i = 0; i < rounds; ++i) {
    port_id p = port();
    std::thread killer([p] { kil(p, {"race"}); });
    mon(p, [&](const message& reason) {
      EXPECT_TRUE(reason == message::array({"race"}) || reason == message::array({"no_such_port"})) << reason;
      fired++;
    });
    killer.join();
  }
  for (int w = 0; w < 500 && fired.load() < rounds; ++w) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(fired.load(), rounds);
}

TEST(Monitors, CancelRacingDeathFiresAtMostOnce) {
  const int rounds = static_cast<int>(sluice_test::scaled(300));
  std::atomic<int> fired{0};
  for (int i = 0; i < rounds; ++i) {
    port_id p = port();
    monitor m = mon(p, [&](const message&) { fired++; });
    std::thread killer([p] { kil(p, {"race"}); });
    m.cancel();
    killer.join();
  }
  std::this_thread::sleep_for(50ms);
  EXPECT_LE(fired.load(), rounds);
}

TEST(Spawn, ByNameWithArgsAndSelf) {
  channel<message> got(sluice::unbounded);
  register_function("sluice_test::echo", [got](const message& args) mutable {
    port_id me = self();
    got.send(message::array({"init", args, me}));
    rcv(me, "ping", [got](const message& rest) mutable { got.send(rest); });
  });
  port_id p = spawn(node_id(), "sluice_test::echo", {1, "two"});
  snd(p, {"ping", 3});  // queued behind init: reaches the handler init installs
  auto first = got.recv_for(5s);
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)[0], "init");
  EXPECT_EQ((*first)[1], message::array({1, "two"}));
  EXPECT_EQ((*first)[2].get<port_id>(), p);
  EXPECT_EQ(*got.recv_for(5s), message::array({3}));
  kil(p);
}

TEST(Spawn, UnknownFunctionKillsTheNewPort) {
  port_id p = spawn(node_id(), "sluice_test::nope");
  auto deaths = watch(p);
  message reason = wait_death(deaths);
  EXPECT_TRUE(reason == message::array({"spawn", "unknown function sluice_test::nope"}) ||
              reason == message::array({"no_such_port"}));
}

TEST(Spawn, OtherNodeIsRejected) { EXPECT_THROW(spawn("elsewhere", "f"), std::invalid_argument); }

TEST(PortAsync, SelectiveReceiveLeavesOthersQueuedInOrder) {
  channel<message> out(sluice::unbounded);
  port_id p = port_async([out](mailbox& mb) mutable {
    auto wanted = mb.get("wanted", 5s);
    out.send(wanted ? *wanted : message("missing"));
    for (int i = 0; i < 3; ++i) out.send(mb.get());
    auto cond = mb.get_cond([](const message& m) { return m.is_array() && m.size() > 1 && m[1] == 42; }, 5s);
    out.send(cond ? *cond : message("missing"));
    out.send(mb.get());
    auto none = mb.get("absent", 20ms);
    out.send(none ? message("unexpected") : message("timeout"));
  });
  snd(p, {"noise", 0});
  snd(p, {"noise", 1});
  snd(p, {"wanted", 9});
  snd(p, {"noise", 2});
  snd(p, {"noise", 42});
  snd(p, {"last"});
  EXPECT_EQ(*out.recv_for(5s), message::array({"wanted", 9}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"noise", 0}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"noise", 1}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"noise", 2}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"noise", 42}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"last"}));
  EXPECT_EQ(*out.recv_for(5s), "timeout");
}

TEST(PortAsync, TenThousandUnmatchedMessagesStayQueued) {
  channel<long> out(sluice::unbounded);
  port_id p = port_async([out](mailbox& mb) mutable {
    auto m = mb.get("wanted", 10s);
    out.send(m ? (*m)[1].get<long>() : -1);
    out.send(static_cast<long>(mb.size()));
    long first = mb.get()[1];
    out.send(first);
  });
  for (long i = 0; i < 10000; ++i) snd(p, {"noise", i});
  snd(p, {"wanted", 7});
  EXPECT_EQ(*out.recv_for(10s), 7);
  EXPECT_EQ(*out.recv_for(10s), 10000);
  EXPECT_EQ(*out.recv_for(10s), 0);
}

TEST(PortAsync, BodyReturningDiesNormallyThrowingDiesWithDie) {
  channel<int> go;
  port_id a = port_async([go](mailbox&) mutable { (void)go.recv(); });
  port_id b = port_async([](mailbox& mb) {
    (void)mb.get();
    throw std::runtime_error("bad");
  });
  auto da = watch(a), db = watch(b);
  go.send(1);
  EXPECT_EQ(wait_death(da), message::array());
  snd(b, {"x"});
  EXPECT_EQ(wait_death(db), message::array({"die", "bad"}));
}

TEST(PortAsync, KilFromOutsideWakesTheMailbox) {
  channel<message> out(sluice::unbounded);
  port_id p = port_async([out](mailbox& mb) mutable {
    try {
      (void)mb.get();
    } catch (const port_killed& k) {
      out.send(k.reason());
    }
  });
  std::this_thread::sleep_for(20ms);
  kil(p, {"stop"});
  EXPECT_EQ(*out.recv_for(5s), message::array({"stop"}));
}

TEST(Psub, RunsLaterWithSelfAndKillsOnThrow) {
  channel<std::function<void()>> cbs(sluice::unbounded);
  port_id p = port([cbs](const message& m) mutable {
    bool fail = m[0] == "fail";
    cbs.send(psub([fail] {
      (void)self();
      if (fail) throw std::runtime_error("psub failed");
    }));
  });
  auto deaths = watch(p);
  snd(p, {"ok"});
  auto cb = cbs.recv_for(5s);
  ASSERT_TRUE(cb);
  std::thread([&] { (*cb)(); }).join();  // from another thread: runs as p
  snd(p, {"fail"});
  auto cb2 = cbs.recv_for(5s);
  ASSERT_TRUE(cb2);
  std::thread([&] { (*cb2)(); }).join();
  EXPECT_EQ(wait_death(deaths), message::array({"die", "psub failed"}));
  EXPECT_THROW((void)psub([] {}), std::logic_error);
}
