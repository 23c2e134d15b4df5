// tests/perl_node.hpp - a Perl AnyEvent::MP node as a child process, for the interoperability
// tests: `perl -I<oracle>/lib SCRIPT` with the given environment, its output in a log file,
// SIGKILLed when destroyed (so no test leaves one behind).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace sluice_test {

class perl_node {
 public:
  perl_node(const std::string& oracle_dir, const std::string& script, std::vector<std::string> env,
            const std::string& logname) {
    log_ = "/tmp/sluice-interop-" + logname + "-" + std::to_string(getpid()) + ".log";
    std::vector<std::string> args{"perl", "-I" + oracle_dir + "/lib", script};
    env.push_back("PATH=/usr/bin:/bin");
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawnp(&pid_, "perl", &fa, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  perl_node(const perl_node&) = delete;
  perl_node& operator=(const perl_node&) = delete;
  ~perl_node() {
    kill9();
    unlink(log_.c_str());
  }

  void kill9() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  std::string output() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  bool said(const std::string& text) const { return output().find(text) != std::string::npos; }
  // The line of the output that contains `text` ("" if none).
  std::string line_with(const std::string& text) const {
    std::string out = output();
    auto at = out.find(text);
    if (at == std::string::npos) return std::string();
    auto begin = out.rfind('\n', at), end = out.find('\n', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    return out.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

}  // namespace sluice_test
