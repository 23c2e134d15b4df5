// sluice/internal/aemp/rcfile.hpp - AnyEvent::MP 2.02's configuration file and profiles.
//
// Reads the file the Perl `aemp` tool writes (../shared/notes/aemp-wire.md, section 6) and
// resolves a profile the way AnyEvent::MP::Config::find_profile and the first part of
// AnyEvent::MP::Kernel::configure do: which settings a node gets, and its node id.
//
//   parse_rc         text -> one JSON object (JSON::XS `relaxed`: `#` comments, end commas,
//                    literal TABs in strings), or "line N: reason"
//   rc_path          where the file is ($PERL_ANYEVENT_MP_RC, else $HOME/.perl-anyevent-mp)
//   load_rc          read and parse it; a missing file is {"version": 1}, as in Perl
//   resolve_profile  merge defaults, arguments, top level, parent chain and the profile
//   nodeid_pattern,  the node id: the config's "nodeid" or "<profile>/", then `%n` -> host
//   expand_nodeid    name, a final `/` and every `%u` -> one 10-character random string
//   binds_of,        the listen and seed addresses, with configure's defaults
//   seeds_of
//
// Precedence in resolve_profile, lowest first (Config.pm, find_profile / _find_profile):
//   without force: built-in defaults < args < top level of the file < the profile's parent
//                  chain, farthest ancestor first < the named profile
//   with force:    top level < parent chain < named profile < built-in defaults < args
// Note that with force the built-in defaults also beat the file: Perl puts the defaults and
// the arguments into one list and moves that whole list after the file's.
//
// Invariants:
//   - Merging is shallow, key by key: a later layer replaces a whole value (arrays are not
//     concatenated, objects are not merged), and a null in a later layer replaces too.
//   - Unknown keys are kept, including the file's own "profile", "version" and "parent".
//   - Every function is pure except rc_path (reads the environment), load_rc (reads a file),
//     random_alnum10 (reads the OS random source) and host_name (uname). No sockets, no
//     globals; all are safe to call from any thread (rc_path only while nothing calls
//     setenv) and none blocks beyond a file read.
//   - A parent chain is followed at most once per profile: a loop is an error, never a hang.
//
// Where sluice is stricter than Perl (Perl silently falls back or misbehaves), it reports an
// error instead: an unreadable or malformed file, a top level that is not an object, a parent
// loop (Perl recurses until memory runs out), a "profile" table or entry that is not an
// object, and "binds" / "seeds" that are not arrays. A profile or parent that does not exist
// is not an error, exactly as in Perl: it contributes nothing (the default profile name is
// the host name, which usually has no entry).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sluice::mp::aemp {

// JSON::XS's default max_depth: deeper nesting is refused.
inline constexpr int rc_max_depth = 512;

// The file's text as one JSON object. nullopt with `why` = "line N: reason" for malformed
// text (including a UTF-8 byte order mark or nesting deeper than rc_max_depth) or a top
// level that is not an object.
std::optional<nlohmann::json> parse_rc(std::string_view text, std::string& why);

// $PERL_ANYEVENT_MP_RC when set (even if empty, as in Perl), else "$HOME/.perl-anyevent-mp"
// when HOME is set, else "$APPDATA/perl-anyevent-mp".
std::string rc_path();

// The parsed file at `path`. A file that does not exist (ENOENT) gives {"version": 1}, the
// configuration Perl starts from; one that cannot be read or parsed gives nullopt, with
// `why` starting with the path.
std::optional<nlohmann::json> load_rc(const std::string& path, std::string& why);

// The built-in defaults of find_profile: monitor_timeout 30, connect_interval 2,
// framing_format [cbor json storable], auth_offer [tls_sha3_512 hmac_sha3_512],
// auth_accept [tls_sha3_512 hmac_sha3_512 tls_anon cleartext].
nlohmann::json builtin_defaults();

// The configuration of profile `profile` (configure's default is host_name()), with `args`
// the program's configure arguments other than "profile" (an object, or null for none).
// As in Perl, the keys "force" and "norc" are taken out of `args`: a Perl-true "force" acts
// like `force`, a Perl-true "norc" skips the file (defaults and args only). nullopt with
// `why` when `args` is not an object, "profile" or an entry of it is not an object, a
// "parent" is not a string, or the parent chain loops.
std::optional<nlohmann::json> resolve_profile(const nlohmann::json& rc, const std::string& profile,
                                              const nlohmann::json& args, bool force, std::string& why);

// Perl's truth of a decoded JSON value: null, false, 0, "" and "0" are false.
bool perl_true(const nlohmann::json& v);

// The node id before expansion: the config's "nodeid" when the key exists, else
// "<profile>/". nullopt with `why` when it is Perl-false (null, "", "0", 0, false: Perl's
// "illegal node ID") or neither a string nor an integer.
std::optional<std::string> nodeid_pattern(const nlohmann::json& config, const std::string& profile, std::string& why);

struct expanded_nodeid {
  std::string id;
  // A random string went in: Perl then clears $UNIQ, so port names carry no extra cookie.
  bool randomised = false;
};

// Kernel.pm's two substitutions, in order: every "%n" becomes `hostname`, then every "%u"
// and a final "/" (Perl's `(?<=/)$`, which also matches before one trailing "\n") become
// the same string, `random10()`, called at most once and only when needed.
expanded_nodeid expand_nodeid(std::string pattern, const std::string& hostname,
                              const std::function<std::string()>& random10);

// Kernel.pm's $RUNIQ: 10 characters from [0-9A-Za-z] (std::random_device), the last one
// upper-cased, so it never equals a local 10-character cookie.
std::string random_alnum10();

// The host name as POSIX uname reports it (Perl's `nodename`); "" if uname fails.
std::string host_name();

// The config's "binds", or ["*"] (every interface, any port) when it is absent or
// Perl-false. nullopt with `why` when it is a true value but not an array.
std::optional<nlohmann::json> binds_of(const nlohmann::json& config, std::string& why);

// The config's "seeds", or [] when absent or Perl-false. nullopt with `why` when it is a true
// value but not an array.
std::optional<nlohmann::json> seeds_of(const nlohmann::json& config, std::string& why);

}  // namespace sluice::mp::aemp
