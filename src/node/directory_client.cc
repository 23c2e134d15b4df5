// The directory's client role, which every node plays (see directory.hpp for the Invariants):
// choosing a master, handing it our entries, queries, and watching families. The protocol is
// AnyEvent::MP 2.02's (Kernel.pm, "talk with/to global nodes"); the code is this project's.
#include "directory.hpp"

#include <algorithm>

namespace sluice::mp::net {
namespace {

std::vector<std::string> keys_of(const message& obj) {
  std::vector<std::string> out;
  if (obj.is_object()) {
    for (const auto& [k, v] : obj.items()) out.push_back(k);
  }
  return out;
}

}  // namespace

directory::directory(std::string self, host& h) : self_(std::move(self)), host_(h) {}

// ---- Step 1: the master. The first seed that is up; a global node is its own. ----

void directory::set_master(const std::string& node) {
  master_ = node;
  if (node == self_) {  // at once, not through the queue: requests already read must see our entries
    global_request(self_, "g_slave", node_request({"g_slave", local_}));
    auto pending = pending_;
    for (const auto& [id, req] : pending) request(self_, req);
    return;
  }
  host_.send_request(master_, node_request({"g_slave", local_}));  // "you are my master": our entries
  for (const auto& [id, req] : pending_) host_.send_request(master_, req);
}

void directory::search_master() {
  if (global_) return set_master(self_);
  for (const auto& s : seeds_up_) {
    if (host_.is_up(s)) return set_master(s);
  }
}

void directory::node_up(const std::string& node, bool is_seed) {
  if (global_) host_.send_request(node, node_request({"g_global"}));  // "I am global"
  if (!is_seed) return;
  seeds_up_.insert(node);
  host_.send_request(node, node_request({"g_slave"}));  // make sure the seed serves
  if (master_.empty()) set_master(node);
}

void directory::node_down(const std::string& node, bool is_seed) {
  global_nodes_.erase(node);
  if (global_) disconnect(node);
  if (is_seed) seeds_up_.erase(node);
  if (node == master_) {
    master_.clear();
    search_master();
  }
}

// ---- Step 2: requests to the master, kept until answered and sent to every new master. ----

void directory::pending_add(const std::string& id, message req) {
  if (pending_.count(id)) return;
  auto& r = pending_[id] = std::move(req);
  if (!master_.empty()) host_.send_request(master_, r);
}

void directory::to_master(message req) {
  if (!master_.empty()) host_.send_request(master_, std::move(req));
}

void directory::find(const std::string& node) { pending_add("g_find " + node, node_request({"g_find", node})); }

void directory::query(const std::string& tag, const std::string& family, const std::string& id,
                      std::function<void(const message&)> on_reply) {
  replies_[id] = std::move(on_reply);
  pending_add(id, node_request({tag, family, id}));
}

void directory::forget(const std::string& id) {
  pending_.erase(id);
  replies_.erase(id);
}

// ---- Step 3: our own entries. Unchanged values send nothing (Perl compares as JSON). ----

void directory::set(const std::string& family, const std::string& key, const message& value) {
  message& fam = local_[family];
  if (fam.is_object() && fam.contains(key) && fam[key] == value) return;
  fam[key] = value;
  to_master(node_request({"g_upd", family, message::object({{key, value}})}));
}

void directory::del(const std::string& family, const std::vector<std::string>& keys) {
  if (!local_.contains(family)) return;
  message& fam = local_[family];
  message gone = message::array();
  for (const auto& k : keys) {
    if (fam.contains(k)) {
      fam.erase(k);
      gone.push_back(k);
    }
  }
  if (fam.empty()) local_.erase(family);
  if (!gone.empty()) to_master(node_request({"g_upd", family, nullptr, gone}));
}

// ---- Step 4: watching a family: g_mon1, then g_chg1 (everything) and g_chg2 (changes). ----

void directory::watch(const std::string& family, std::shared_ptr<monitor::state> st, family_watcher f) {
  auto it = mon_.find(family);
  watcher w{std::move(st), std::move(f)};
  if (it != mon_.end()) {  // watched already: this watcher starts from what we have
    call_watcher(w, [st = w.st, f = w.f, contents = it->second] {
      if (!st->cancelled.load()) f(contents, keys_of(contents), {}, {});
    });
  } else {
    mon_[family] = message::object();
    pending_add("mon1 " + family, node_request({"g_mon1", family}));
  }
  watchers_[family].push_back(std::move(w));
}

void directory::call_watcher(const watcher& w, std::function<void()> call) {
  if (w.calls->push(std::move(call))) host_.post_user([calls = w.calls] { calls->drain(); });
}

void directory::unwatch(const std::string& family) {
  if (watchers_.count(family)) prune_watchers(family);
}

// Watchers cancelled since the last change go; with the last one the family is unwatched.
void directory::prune_watchers(const std::string& family) {
  auto& ws = watchers_[family];
  std::erase_if(ws, [](const watcher& w) { return w.st->cancelled.load(); });
  if (!ws.empty()) return;
  watchers_.erase(family);
  mon_.erase(family);
  pending_.erase("mon1 " + family);
  to_master(node_request({"g_mon0", family}));
}

// g_chg1 (whole = true: set is the whole family) or g_chg2 (set and deleted keys).
void directory::changed(const std::string& family, const message& set, const message& del, bool whole) {
  auto it = mon_.find(family);
  if (it == mon_.end()) return;
  message& db = it->second;
  std::vector<std::string> added, changed, deleted;
  if (set.is_object()) {
    for (const auto& [k, v] : set.items()) {
      (db.contains(k) ? changed : added).push_back(k);
      db[k] = v;
    }
  }
  if (whole) {
    for (const auto& k : keys_of(db)) {
      if (!set.is_object() || !set.contains(k)) {
        db.erase(k);
        deleted.push_back(k);
      }
    }
  } else if (del.is_array()) {
    for (const auto& k : del) {
      if (k.is_string() && db.contains(k.get<std::string>())) {
        db.erase(k.get<std::string>());
        deleted.push_back(k.get<std::string>());
      }
    }
  }
  prune_watchers(family);
  if (!watchers_.count(family)) return;
  for (const auto& w : watchers_[family]) {
    call_watcher(w, [st = w.st, f = w.f, contents = db, added, changed, deleted] {
      if (!st->cancelled.load()) f(contents, added, changed, deleted);
    });
  }
}

// ---- Requests: the client's own tags, then the global service's. ----

void directory::request(const std::string& src, const message& m) {
  const std::string tag = m[1].get<std::string>();
  auto arg = [&](std::size_t i) { return i < m.size() ? m[i] : message(); };
  auto text = [&](std::size_t i) { return arg(i).is_string() ? arg(i).get<std::string>() : std::string(); };
  if (tag == "g_global") {
    global_nodes_.insert(src);
    if (global_) global_request(src, tag, m);
  } else if (tag == "g_reply") {  // g_reply ID RESULT
    pending_.erase(text(2));
    auto it = replies_.find(text(2));
    if (it == replies_.end()) return;
    auto cb = std::move(it->second);
    replies_.erase(it);
    cb(arg(3));
  } else if (tag == "g_found") {  // g_found NODE [ADDRESSES] or null
    pending_.erase("g_find " + text(2));
    std::vector<std::string> addrs;
    for (const auto& a : arg(3)) {
      if (a.is_string()) addrs.push_back(a.get<std::string>());
    }
    host_.connect_to(text(2), addrs);
  } else if (tag == "g_chg1" || tag == "g_chg2") {
    if (src != master_) return;  // a stale master's news
    changed(text(2), arg(3), arg(4), tag == "g_chg1");
  } else if (tag == "g_slave") {  // a node wants us as its master: we serve from now on
    become_global();
    global_request(src, tag, m);
  } else if (global_) {
    global_request(src, tag, m);
  }
}

}  // namespace sluice::mp::net
