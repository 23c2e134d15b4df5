// tools/aemp/args.cc - argument values and output lines (see aemp.hpp).
#include <cstdio>
#include <ctime>

#include "aemp.hpp"

namespace aemp_tool {

std::string words::next(const std::string& cmd, const char* what) {
  if (done()) throw failure(exit_usage, cmd + ": missing argument " + what);
  return w[i++];
}

json json_or_string(const std::string& arg) {
  if (!arg.empty() && (arg[0] == '[' || arg[0] == '{' || arg[0] == '"')) {
    try {
      return json::parse(arg);
    } catch (const json::exception& e) {
      throw failure(exit_usage, "malformed JSON argument " + arg + ": " + e.what());
    }
  }
  return arg;
}

json option_value(const std::string& arg) {
  if (arg.empty()) return arg;
  if (arg == "true" || arg == "false" || arg == "null") return json::parse(arg);
  char c = arg[0];
  if (c == '-' || (c >= '0' && c <= '9')) {
    json v = json::parse(arg, nullptr, false);
    if (!v.is_discarded() && v.is_number()) return v;
    return arg;
  }
  return json_or_string(arg);
}

std::string human(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

void out(const options& o, const std::string& human_line, const json& v) {
  std::string line = o.json ? v.dump(-1, ' ', false, json::error_handler_t::replace) : human_line;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::string timestamp() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  return buf;
}

}  // namespace aemp_tool
