// The directory's two roles (src/node/directory.hpp) in one process, without sockets: a fake
// network delivers node-port requests between directories in order, so the merge rule, the
// watchers' added/changed/deleted lists, g_find and a change of master are checked exactly.
#include "../src/node/directory.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace mp = sluice::mp;
using mp::message;
using mp::net::directory;

namespace {

class network;

// One node's view of the fake network.
class fake_host : public directory::host {
 public:
  fake_host(network& net, std::string self) : net_(net), self_(std::move(self)) {}
  void send_request(const std::string& node, message wire) override;
  bool is_up(const std::string& node) override;
  std::vector<std::string> connected() override;
  void connect_to(const std::string& node, const std::vector<std::string>& addresses) override {
    found[node] = addresses;
  }
  void keep_connected(std::vector<std::string> nodes) override { keep = std::move(nodes); }
  void post_user(std::function<void()> f) override { f(); }  // at once: the test is one thread

  std::map<std::string, std::vector<std::string>> found;  // g_found answers
  std::vector<std::string> keep;

 private:
  network& net_;
  std::string self_;
};

class network {
 public:
  directory& add(const std::string& id) {
    hosts_[id] = std::make_unique<fake_host>(*this, id);
    return *(dirs_[id] = std::make_unique<directory>(id, *hosts_[id]));
  }
  directory& operator[](const std::string& id) { return *dirs_.at(id); }
  fake_host& host(const std::string& id) { return *hosts_.at(id); }
  // A connection comes up; `seed_of_a`: b is one of a's seeds (and the other way round).
  void link(const std::string& a, const std::string& b, bool b_is_seed_of_a = false) {
    links_.insert({std::min(a, b), std::max(a, b)});
    dirs_[a]->node_up(b, b_is_seed_of_a);
    dirs_[b]->node_up(a, false);
    run();
  }
  void unlink(const std::string& a, const std::string& b, bool b_is_seed_of_a = false) {
    links_.erase({std::min(a, b), std::max(a, b)});
    std::erase_if(queue_, [&](const auto& m) {
      return (std::get<0>(m) == a && std::get<1>(m) == b) || (std::get<0>(m) == b && std::get<1>(m) == a);
    });
    dirs_[a]->node_down(b, b_is_seed_of_a);
    dirs_[b]->node_down(a, false);
    run();
  }
  bool linked(const std::string& a, const std::string& b) const { return links_.count({std::min(a, b), std::max(a, b)}) != 0; }
  std::vector<std::string> peers(const std::string& a) const {
    std::vector<std::string> out;
    for (const auto& [x, y] : links_) {
      if (x == a) out.push_back(y);
      if (y == a) out.push_back(x);
    }
    return out;
  }
  void post(const std::string& from, const std::string& to, message m) { queue_.emplace_back(from, to, std::move(m)); }
  // Delivers everything in order (bounded: a protocol loop would fail the test, not hang it).
  void run() {
    for (int i = 0; i < 10000 && !queue_.empty(); ++i) {
      auto [from, to, m] = queue_.front();
      queue_.pop_front();
      dirs_.at(to)->request(from, m);
    }
    ASSERT_TRUE(queue_.empty()) << "the directories never went quiet";
  }

 private:
  std::map<std::string, std::unique_ptr<fake_host>> hosts_;
  std::map<std::string, std::unique_ptr<directory>> dirs_;
  std::set<std::pair<std::string, std::string>> links_;
  std::deque<std::tuple<std::string, std::string, message>> queue_;
};

void fake_host::send_request(const std::string& node, message wire) {
  if (node == self_ || net_.linked(self_, node)) net_.post(self_, node, std::move(wire));
}
bool fake_host::is_up(const std::string& node) { return net_.linked(self_, node); }
std::vector<std::string> fake_host::connected() { return net_.peers(self_); }

// What one watcher saw.
struct seen {
  message contents;
  std::vector<std::vector<std::string>> added, changed, deleted;
  int calls = 0;
};

std::shared_ptr<seen> watch(directory& d, const std::string& family) {
  auto s = std::make_shared<seen>();
  d.watch(family, std::make_shared<mp::monitor::state>(),
          [s](const message& c, const std::vector<std::string>& a, const std::vector<std::string>& ch,
              const std::vector<std::string>& del) {
            s->contents = c;
            s->added.push_back(a);
            s->changed.push_back(ch);
            s->deleted.push_back(del);
            ++s->calls;
          });
  return s;
}

using keys = std::vector<std::string>;

// One global node G (it found itself behind its seed address) and slaves A and B.
struct star : ::testing::Test {
  network net;
  void SetUp() override {
    net.add("G").become_global();
    net.add("A");
    net.add("B");
    net.run();
    net.link("A", "G", true);
    net.link("B", "G", true);
  }
};

TEST_F(star, AWatcherSeesAddedChangedAndDeletedKeys) {
  net["A"].set("f", "k", "v1");
  net.run();
  auto w = watch(net["B"], "f");
  net.run();
  ASSERT_EQ(w->calls, 1);
  EXPECT_EQ(w->contents, message::parse(R"({"k": "v1"})"));
  EXPECT_EQ(w->added[0], keys{"k"});
  net["A"].set("f", "k", "v1");  // unchanged: nothing is sent
  net.run();
  EXPECT_EQ(w->calls, 1);
  net["A"].set("f", "k", "v2");
  net["A"].set("f", "k2", 3);
  net.run();
  ASSERT_EQ(w->calls, 3);
  EXPECT_EQ(w->changed[1], keys{"k"});
  EXPECT_EQ(w->added[2], keys{"k2"});
  net["A"].del("f", {"k"});
  net.run();
  EXPECT_EQ(w->deleted.back(), keys{"k"});
  EXPECT_EQ(w->contents, message::parse(R"({"k2": 3})"));
}

TEST_F(star, ANodesEntriesGoWhenItDisconnects) {
  net["A"].set("f", "a", 1);
  net["B"].set("f", "b", 2);
  net.run();
  auto w = watch(net["G"], "f");
  net.run();
  EXPECT_EQ(w->contents, message::parse(R"({"a": 1, "b": 2})"));
  net.unlink("A", "G", true);
  EXPECT_EQ(w->contents, message::parse(R"({"b": 2})"));
  EXPECT_EQ(w->deleted.back(), keys{"a"});
}

TEST_F(star, AKeyTwoNodesHoldStaysWhileOneStillHoldsIt) {
  net["A"].set("f", "k", "from A");
  net.run();
  net["B"].set("f", "k", "from B");
  net.run();
  auto w = watch(net["G"], "f");
  net.run();
  EXPECT_EQ(w->contents, message::parse(R"({"k": "from B"})"));  // the last set wins
  net["B"].del("f", {"k"});
  net.run();
  EXPECT_EQ(w->contents, message::parse(R"({"k": "from A"})")) << "A still holds k";
  net.unlink("A", "G", true);
  EXPECT_EQ(w->contents, message::object());
}

TEST_F(star, QueriesAndAddressLookupsAreAnsweredByTheMaster) {
  net["B"].set("'l", "B", message::array({"127.0.0.1:5000"}));
  net["B"].set("f", "k", "v");
  net.run();
  net["A"].find("B");
  message got;
  net["A"].query("g_db_family", "f", "q1", [&](const message& m) { got = m; });
  net.run();
  EXPECT_EQ(net.host("A").found["B"], keys{"127.0.0.1:5000"});
  EXPECT_EQ(got, message::parse(R"({"k": "v"})"));
  net["A"].find("nobody");
  net.run();
  EXPECT_TRUE(net.host("A").found.count("nobody")) << "an unknown node is answered too (no addresses)";
  EXPECT_TRUE(net.host("A").found["nobody"].empty());
  EXPECT_EQ(net["G"].addresses("B"), keys{"127.0.0.1:5000"});
}

// Two global nodes share their slaves' entries; each keeps the other connected.
TEST(directory_globals, SlavesOfTwoGlobalNodesSeeEachOthersEntries) {
  network net;
  net.add("G1").become_global();
  net.add("G2").become_global();
  net.add("A");
  net.add("B");
  net.run();
  net.link("G1", "G2");
  net.link("A", "G1", true);
  net.link("B", "G2", true);
  net["A"].set("f", "a", "x");
  net.run();
  auto w = watch(net["B"], "f");
  net.run();
  EXPECT_EQ(w->contents, message::parse(R"({"a": "x"})"));
  EXPECT_EQ(net.host("G1").keep, keys{"G2"});
  EXPECT_EQ(net.host("G2").keep, keys{"G1"});
  net.unlink("A", "G1", true);
  EXPECT_EQ(w->contents, message::object()) << "A's entries go everywhere when it leaves";
}

// A node whose master goes finds another seed, hands it its entries and asks again.
TEST(directory_masters, ANewMasterGetsTheEntriesAndTheWatches) {
  network net;
  net.add("G1").become_global();
  net.add("G2").become_global();
  net.add("A");
  net.add("B");
  net.run();
  net.link("A", "G1", true);
  net.link("A", "G2", true);
  net.link("B", "G2", true);
  net["A"].set("f", "a", 1);
  auto w = watch(net["A"], "g");
  net.run();
  net.unlink("A", "G1", true);  // G1 was A's master (its first seed up)
  auto at_g2 = watch(net["G2"], "f");
  net.run();
  EXPECT_EQ(at_g2->contents, message::parse(R"({"a": 1})"));
  net["B"].set("g", "b", 2);
  net.run();
  EXPECT_EQ(w->contents, message::parse(R"({"b": 2})")) << "A's watch was sent to its new master";
}

}  // namespace
