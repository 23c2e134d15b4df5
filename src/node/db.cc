// The directory's public API (sluice/node.hpp: db_set, db_del, db_reg, db_family, db_mon):
// each call is handed to the io thread, where the directory lives (directory.hpp).
#include <atomic>
#include <future>
#include <memory>
#include <stdexcept>

#include "node.hpp"

namespace sluice::mp {
namespace {

net::node& configured(const char* what) {
  net::node* n = net::current();
  if (!n) throw std::logic_error(std::string("sluice::mp::") + what + ": configure() first");
  return *n;
}

void on_io(net::node& n, std::function<void(net::directory&)> f) {
  boost::asio::post(n.io(), [&n, f = std::move(f)] { f(n.dir()); });
}

}  // namespace

void db_set(const std::string& family, const std::string& key, message value) {
  on_io(configured("db_set"), [family, key, value = std::move(value)](net::directory& d) { d.set(family, key, value); });
}

void db_del(const std::string& family, const std::string& key) {
  on_io(configured("db_del"), [family, key](net::directory& d) { d.del(family, {key}); });
}

// Perl's db_reg: the entry goes when the port dies (a monitor on it; for another node's
// port also when its connection breaks).
void db_reg(const std::string& family, const port_id& p, message value) {
  configured("db_reg");
  db_set(family, p.str(), std::move(value));
  mon(p, [family, key = p.str()](const message&) { db_del(family, key); });
}

std::optional<message> db_family(const std::string& family, std::chrono::milliseconds timeout) {
  static std::atomic<unsigned long> next_id{0};
  net::node& n = configured("db_family");
  auto answer = std::make_shared<std::promise<message>>();
  auto result = answer->get_future();
  std::string id = "q";  // not "q" + to_string(...): GCC 12 warns falsely there (-Wrestrict)
  id += std::to_string(next_id.fetch_add(1) + 1);
  on_io(n, [family, id, answer](net::directory& d) {
    d.query("g_db_family", family, id, [answer](const message& m) {
      answer->set_value(m.is_object() ? m : message::object());
    });
  });
  if (result.wait_for(timeout) == std::future_status::ready) return result.get();
  on_io(n, [id](net::directory& d) { d.forget(id); });
  return std::nullopt;
}

monitor db_mon(const std::string& family,
               std::function<void(const message& contents, const std::vector<std::string>& added,
                                  const std::vector<std::string>& changed, const std::vector<std::string>& deleted)>
                   f) {
  net::node& n = configured("db_mon");
  if (!f) throw std::invalid_argument("sluice::mp::db_mon: no callback");
  auto st = std::make_shared<monitor::state>();
  st->on_cancel = [&n, family] { on_io(n, [family](net::directory& d) { d.unwatch(family); }); };
  on_io(n, [family, st, f = std::move(f)](net::directory& d) { d.watch(family, st, f); });
  return make_monitor(st);
}

}  // namespace sluice::mp
