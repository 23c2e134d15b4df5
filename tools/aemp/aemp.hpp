// tools/aemp/aemp.hpp - the pieces of the `aemp` program (AnyEvent::MP's command-line tool):
//
//   args.cc      options (--json, --timeout), JSON-or-string arguments, output lines, errors
//   rcedit.cc    the rc file: load (strict about malformed text), edit, write atomically
//   config.cc    the config commands (profile NAME, setsecret, gencert, addseed, showprofile, ...)
//   gencert.cc   a self-signed key + certificate as one PEM, made with OpenSSL's API
//   network.cc   snd, cal, mon, nodes, db, ping, trace as a temporary node of profile "aemp"
//   seed.cc      aemp seed: a standalone global node until SIGINT/SIGTERM
//   main.cc      help and dispatch
//
// Exit codes: 0 ok, 1 an error (network, file, OpenSSL), 2 bad usage (unknown command,
// missing argument, bad value), 3 a timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace aemp_tool {

using json = nlohmann::json;

inline constexpr int exit_ok = 0, exit_error = 1, exit_usage = 2, exit_timeout = 3;

// Thrown anywhere; main prints "aemp: <what>" on stderr and exits with `code`.
struct failure : std::runtime_error {
  failure(int c, const std::string& what) : std::runtime_error(what), code(c) {}
  int code;
};

struct options {
  bool json = false;                                  // --json: one JSON value per line
  std::chrono::milliseconds timeout{10000};           // --timeout S: every network wait
};

// The command line after the options: a cursor over the words.
struct words {
  std::vector<std::string> w;
  std::size_t i = 0;
  bool done() const { return i >= w.size(); }
  const std::string& peek() const { return w[i]; }
  std::string next(const std::string& cmd, const char* what);   // failure(exit_usage) if none
};

// "[..." "{..." "\"..." -> parsed JSON (failure(exit_usage) if malformed), else the string.
json json_or_string(const std::string& arg);
// A config value: JSON when it starts with [ { " or is a JSON number / true / false / null,
// else the string itself.
json option_value(const std::string& arg);

// One output line on stdout (flushed): `human` normally, v.dump() with --json.
void out(const options& o, const std::string& human, const json& v);
// A value for humans: a string as is, anything else as compact JSON.
std::string human(const json& v);
// UTC "YYYY-MM-DDTHH:MM:SS.mmmZ".
std::string timestamp();

// ---- the rc file ----
struct rc_file {
  std::string path;
  bool existed = false;
  json data;              // the whole file
  bool dirty = false;
};
rc_file load_rc_file();                 // failure(exit_error) for a malformed/unreadable file
void save_rc_file(const rc_file& rc);   // temp file + fsync + rename; failure on any error

// Runs the config commands from w (stops before a network command or at the end); saves when
// something changed. Returns the profile named by a trailing `profile NAME` ("" if none).
std::string run_config_commands(words& w, const options& o, rc_file& rc);
bool is_config_command(const std::string& word);

// gencert: key + self-signed certificate, key first (failure(exit_error) if OpenSSL fails).
std::string generate_cert_pem();
// gensecret: 86 characters of [0-9A-Za-z] (about 512 bits) from OpenSSL's RAND_bytes.
std::string generate_secret();

// ---- network ----
bool is_network_command(const std::string& word);
int run_network_command(words& w, const options& o);
int run_seed(words& w, const options& o, const std::string& profile);

void print_help();

}  // namespace aemp_tool
