// Two sluice nodes in two processes, talking AnyEvent::MP's protocol over 127.0.0.1.
//
//   example_nodes server 127.0.0.1:14050            # node "server": a well-known port "greeter"
//   example_nodes client 127.0.0.1:14050            # node "client": asks the greeter, watches it
//   example_nodes                                   # both: starts the server itself, then the client
//
// The server registers its greeter in the directory (family "greeters"); the server is the
// client's seed, hence its master, so the client finds the greeter there (db_family), sends it
// ["hello", NAME, REPLYPORT] and prints the reply; it monitors the greeter, so when the server process goes away it learns why
// (["transport_error", "server", ...]) instead of waiting forever. A Perl AnyEvent::MP node
// configured with the same secret could take either side.
#include <sluice/node.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <thread>

namespace mp = sluice::mp;
using namespace std::chrono_literals;

namespace {

const char* const secret = "example secret";

int server(const std::string& addr) {
  mp::node_config cfg;
  cfg.nodeid = "server";
  cfg.secret = secret;
  cfg.binds = {addr};
  cfg.use_rc_file = false;
  mp::configure(cfg);
  auto greeter = mp::named_port("greeter", [](const mp::message& m) {  // ["hello", name, replyport]
    mp::snd(mp::port_id::parse(m.at(2).get<std::string>()), {"greeting", "hello, " + m.at(1).get<std::string>()});
  });
  mp::db_reg("greeters", greeter);  // listed while the port lives
  std::this_thread::sleep_for(30s);  // serves for a while, then exits
  return 0;
}

int client(const std::string& seed, pid_t server_pid) {
  mp::node_config cfg;
  cfg.nodeid = "client";
  cfg.secret = secret;
  cfg.binds = {"127.0.0.1:*"};
  cfg.seeds = {seed};  // the server: connecting to it tells us its node id
  cfg.use_rc_file = false;
  mp::configure(cfg);
  std::promise<std::string> reply, death;
  auto me = mp::port([&](const mp::message& m) { reply.set_value(m.dump()); });
  auto greeters = mp::db_family("greeters", 10s);  // asks our master (the seed) once it is up
  if (!greeters || greeters->empty()) {
    std::printf("no greeter in the directory\n");
    return 1;
  }
  auto greeter = mp::port_id::parse(greeters->begin().key());
  std::printf("client found %s in the directory\n", greeter.str().c_str());
  mp::mon(greeter, [&](const mp::message& reason) { death.set_value(reason.dump()); });
  mp::snd(greeter, {"hello", "client", me});
  auto r = reply.get_future();
  if (r.wait_for(10s) != std::future_status::ready) {
    std::printf("no reply\n");
    return 1;
  }
  std::printf("client got %s\n", r.get().c_str());
  if (server_pid > 0) kill(server_pid, SIGKILL);  // the demo ends the server...
  auto d = death.get_future();
  if (d.wait_for(10s) != std::future_status::ready) {
    std::printf("the monitor never fired\n");
    return 1;
  }
  std::printf("client's monitor on server#greeter fired: %s\n", d.get().c_str());  // ...and is told
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "server") == 0) return server(argv[2]);
  if (argc == 3 && std::strcmp(argv[1], "client") == 0) return client(argv[2], -1);
  if (argc != 1) {
    std::fprintf(stderr, "usage: %s [server|client HOST:PORT]\n", argv[0]);
    return 2;
  }
  // Both: run the server as a child process of ours, then be the client.
  std::string addr = "127.0.0.1:14050", self = "/proc/self/exe";
  char* args[] = {self.data(), const_cast<char*>("server"), addr.data(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, self.c_str(), nullptr, nullptr, args, nullptr) != 0) return 1;
  int rc = client(addr, pid);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return rc;
}
