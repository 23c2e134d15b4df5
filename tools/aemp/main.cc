// tools/aemp/main.cc - the `aemp` program: options, help, dispatch (see aemp.hpp).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "aemp.hpp"

namespace aemp_tool {

void print_help() {
  std::fputs(
      "usage: aemp [--json] [--timeout S] COMMAND...\n"
      "\n"
      "Configuration (the rc file $PERL_ANYEVENT_MP_RC, else ~/.perl-anyevent-mp). Commands chain\n"
      "and change the top level, or profile NAME after `profile NAME`. setX may be written X.\n"
      "  profile NAME           act on that profile from here on\n"
      "  setsecret S | gensecret | delsecret\n"
      "  setcert FILE | gencert | delcert        (PEM: private key + self-signed certificate)\n"
      "  setseeds A:P,B:P | addseed A:P | delseed A:P\n"
      "  setbinds A:P,B:P | addbind A:P | delbind A:P\n"
      "  setnodeid ID | delnodeid     setparent NAME | delparent\n"
      "  setservices A,B | setframing_format cbor,json | setauth_offer L | setauth_accept L\n"
      "  setmonitor_timeout S | setconnect_interval S | setnodelay 0/1 | setsecure 0/1\n"
      "                         (values starting with [ { \" or numbers, true, false, null are JSON;\n"
      "                          lists also take a,b,c; del<option> removes one)\n"
      "  showprofile NAME       the profile's configuration after precedence\n"
      "  showconfig             the whole file\n"
      "\n"
      "The network (as a temporary node of profile \"aemp\"; waits end after --timeout, 10 s):\n"
      "  snd PORT ARG...        send [ARG...] (ARGs starting with [ { \" are JSON, others strings)\n"
      "  cal PORT ARG...        send with a reply port appended, print the reply\n"
      "  mon PORT               print the reason when PORT dies\n"
      "  nodes                  the nodes of the network (directory 'l), connected ones marked\n"
      "  db FAMILY              the directory family\n"
      "  ping NODE              round trip to NODE's node port (its \"time\" request)\n"
      "  trace NODE             ping, then node up/down and directory 'l changes until the timeout\n"
      "  seed [profile NAME]    run a standalone global node (default profile \"seed\") until\n"
      "                         SIGINT/SIGTERM, logging connections and directory changes\n"
      "  help                   this text\n"
      "\n"
      "Options: --json (one JSON value per line), --timeout S (seconds, > 0).\n"
      "Exit: 0 ok, 1 error, 2 bad usage (file untouched), 3 timeout.\n",
      stdout);
  std::fflush(stdout);
}

namespace {

int run(int argc, char** argv) {
  options o;
  words w;
  int i = 1;
  for (; i < argc && std::strncmp(argv[i], "--", 2) == 0; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      o.json = true;
    } else if (a == "--timeout" && i + 1 < argc) {
      char* end = nullptr;
      double s = std::strtod(argv[++i], &end);
      if (!end || *end || !(s > 0) || s > 1e6) throw failure(exit_usage, "--timeout: a number of seconds > 0 expected");
      o.timeout = std::chrono::milliseconds(static_cast<long long>(s * 1000));
    } else if (a == "--help") {
      print_help();
      return exit_ok;
    } else {
      throw failure(exit_usage, "unknown option " + a + " (aemp help lists everything)");
    }
  }
  for (; i < argc; ++i) w.w.push_back(argv[i]);
  if (w.done()) {
    print_help();
    return exit_usage;
  }
  if (w.peek() == "help" && w.w.size() == 1) {  // even when the rc file is malformed
    print_help();
    return exit_ok;
  }
  rc_file f = load_rc_file();
  std::string profile = run_config_commands(w, o, f);
  if (f.dirty) save_rc_file(f);  // before a network command that may read it
  if (w.done()) return exit_ok;
  if (w.peek() == "seed") {
    ++w.i;
    return run_seed(w, o, profile);
  }
  return run_network_command(w, o);
}

}  // namespace
}  // namespace aemp_tool

int main(int argc, char** argv) {
  try {
    return aemp_tool::run(argc, argv);
  } catch (const aemp_tool::failure& e) {
    std::fprintf(stderr, "aemp: %s\n", e.what());
    return e.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aemp: %s\n", e.what());
    return aemp_tool::exit_error;
  }
}
