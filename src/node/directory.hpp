// The directory (AnyEvent::MP's distributed database, gproto 1): both of its roles, as
// ../shared/notes/aemp-wire.md section 5 and AnyEvent::MP 2.02's Kernel.pm/Global.pm speak it.
// Private header.
//
// Every node keeps its own entries (family -> key -> value) and hands them to its *master*,
// the first seed it connected to. A *global* node (a seed, or any node asked to serve with
// g_slave) keeps the merged directory of its slaves, exchanges it with the other global nodes,
// answers queries (g_find, g_db_*) and tells watchers of a family (g_mon1) what changed
// (g_chg1 once, then g_chg2). A global node is its own master.
//
// Invariants:
//   - Every member runs on the node's io thread: requests from peers, node up/down events,
//     and the public db_* calls (posted there). Nothing here takes a lock but a watcher's
//     serial_calls queue (briefly, never over a call), and no user
//     callback runs here (db_mon callbacks go through host::post_user, each watcher's
//     through its own serial_calls, so they run in the order of the changes).
//   - local_ is this node's own entries, exactly: the master always has them after a
//     g_slave (sent whenever a master is chosen) and every later g_upd.
//   - Requests that need the master (g_find, g_db_*, g_mon1) wait in pending_ until they are
//     answered or given up, and are sent again to every new master: none is lost when the
//     master changes.
//   - On a global node, global_[f][k] is the value some node holds for (f, k), preferring a
//     slave's over another global node's (Perl's rule), and from_[n] is exactly what node n
//     contributed. A node's entries go when it disconnects.
//   - Monitored families (mon_) are replaced wholesale by g_chg1 and patched by g_chg2, from
//     the current master only.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../mp/runtime.hpp"
#include "serial_calls.hpp"

namespace sluice::mp::net {

// ["", parts...]: a request to a node's node port.
inline message node_request(std::initializer_list<message> parts) {
  message m = message::array({""});
  for (const auto& p : parts) m.push_back(p);
  return m;
}

class directory {
 public:
  // What the directory needs from the node (the node implements it; tests can fake it).
  struct host {
    virtual ~host() = default;
    virtual void send_request(const std::string& node, message wire) = 0;  // ["", tag, ...]; may be us
    virtual bool is_up(const std::string& node) = 0;
    virtual std::vector<std::string> connected() = 0;
    virtual void connect_to(const std::string& node, const std::vector<std::string>& addresses) = 0;
    virtual void keep_connected(std::vector<std::string> nodes) = 0;  // the global nodes to stay in touch with
    virtual void post_user(std::function<void()> f) = 0;            // run a user callback elsewhere
  };
  using family_watcher = std::function<void(const message& contents, const std::vector<std::string>& added,
                                            const std::vector<std::string>& changed,
                                            const std::vector<std::string>& deleted)>;

  directory(std::string self, host& h);

  // Events from the node.
  void request(const std::string& src, const message& m);  // ["", "g_...", args...]
  void node_up(const std::string& node, bool is_seed);
  void node_down(const std::string& node, bool is_seed);
  void become_global();                                     // a seed address was our own
  bool is_global() const { return global_; }
  std::optional<std::vector<std::string>> addresses(const std::string& node) const;  // global only
  void find(const std::string& node);                       // ask the master where node listens

  // The public API (posted to the io thread).
  void set(const std::string& family, const std::string& key, const message& value);
  void del(const std::string& family, const std::vector<std::string>& keys);
  void query(const std::string& tag, const std::string& family, const std::string& id,
             std::function<void(const message&)> on_reply);  // tag: g_db_family/_keys/_values
  void forget(const std::string& id);                         // a query given up
  void watch(const std::string& family, std::shared_ptr<monitor::state> st, family_watcher f);
  void unwatch(const std::string& family);                    // a watcher was cancelled

 private:
  struct watcher {
    std::shared_ptr<monitor::state> st;
    family_watcher f;
    std::shared_ptr<serial_calls> calls = std::make_shared<serial_calls>();  // f's calls, in order
  };
  void call_watcher(const watcher& w, std::function<void()> call);

  // Client role (Kernel.pm).
  void set_master(const std::string& node);
  void search_master();
  void pending_add(const std::string& id, message req);
  void to_master(message req);
  void changed(const std::string& family, const message& set, const message& del, bool whole);
  void prune_watchers(const std::string& family);

  // Global role (Global.pm).
  void global_request(const std::string& src, const std::string& tag, const message& m);
  void update(const std::string& node, const std::string& family, message set, const message& del);
  void merge(const std::string& node, const message& db);
  void clear(const std::string& node);
  void disconnect(const std::string& node);
  void greet_global(const std::string& node);
  void broadcast(const message& req);
  void keep_globals();

  std::string self_;
  host& host_;

  // Client state.
  std::string master_;                              // "" while there is none
  std::set<std::string> seeds_up_;                  // seed nodes connected now
  std::set<std::string> global_nodes_;              // nodes that said g_global
  message local_ = message::object();               // family -> {key: value}: our entries
  std::map<std::string, message> pending_;          // id -> request waiting for the master
  std::map<std::string, std::function<void(const message&)>> replies_;  // query id -> callback
  std::map<std::string, message> mon_;              // family -> contents, as watched
  std::map<std::string, std::vector<watcher>> watchers_;

  // Global state.
  bool global_ = false;
  message global_db_ = message::object();           // family -> {key: value}, merged
  std::map<std::string, message> from_;             // node -> family -> {key: value}
  std::map<std::string, std::set<std::string>> slaves_;    // slave node -> families it watches
  std::map<std::string, std::set<std::string>> watched_;   // family -> nodes watching it
};

}  // namespace sluice::mp::net
