// libFuzzer target: AEMP's handshake parsers (greeting lines, the line reader, the
// authentication line; sluice/internal/aemp/{greeting,auth}.hpp). Checked on every input: a
// greeting that parses prints to a line that parses to the same greeting, an authentication
// line likewise, the line reader never hands out a line over the limit, and a handshake fed
// the input ends failed with a reason or still waiting, never done without a valid peer.
// Run: tools/fuzz.
#include <sluice/internal/aemp/auth.hpp>
#include <sluice/internal/aemp/greeting.hpp>
#include <sluice/internal/aemp/handshake.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace aemp = sluice::mp::aemp;

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "aemp_greeting_fuzz: %s\n", what);
  std::abort();
}

void check_line(std::string_view line) {
  std::string why;
  if (auto g = aemp::parse_greeting(line, why)) {
    std::string printed = aemp::format_greeting(*g);
    auto again = aemp::parse_greeting(printed, why);
    if (!again || again->nodeid != g->nodeid || again->auths != g->auths || again->framings != g->framings ||
        again->keys != g->keys) {
      broken("a parsed greeting does not survive printing");
    }
  } else if (why.empty()) {
    broken("a refused greeting without a reason");
  }
  if (auto a = aemp::parse_auth_line(line, why)) {
    auto again = aemp::parse_auth_line(aemp::format_auth_line(*a), why);
    if (!again || again->method != a->method || again->token != a->token || again->framing != a->framing) {
      broken("an authentication line does not survive printing");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  aemp::line_reader r;
  // Feed in two parts at a point chosen by the input, then take lines until none is left.
  std::size_t cut = size ? data[0] % (size + 1) : 0;
  r.feed(in.substr(0, cut));
  r.feed(in.substr(cut));
  bool too_long = false;
  for (int i = 0; i < 64; ++i) {
    auto line = r.next(too_long);
    if (!line) break;
    if (line->size() > aemp::max_handshake_line) broken("a line over the limit");
    check_line(*line);
  }
  check_line(in);
  aemp::handshake_config cfg;
  cfg.nodeid = "fuzz";
  cfg.secret = "s";
  aemp::handshake h(cfg, "nonce");
  h.feed(in.substr(0, cut));
  auto st = h.feed(in.substr(cut));
  if (st == aemp::handshake::step::failed && h.error().empty()) broken("a failed handshake without a reason");
  if (st == aemp::handshake::step::done && !aemp::valid_nodeid(h.peer().nodeid)) broken("done with an invalid peer");
  (void)h.take_output();
  (void)h.take_rest();
  return 0;
}
