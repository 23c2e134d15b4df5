// tools/aemp/rcedit.cc - loading and atomically writing the rc file (see aemp.hpp).
//
// Unlike Perl (which silently starts from {"version": 1} when the file does not parse), a
// malformed file is an error: aemp refuses to run and leaves it as it is. The file is written
// the way Perl's Config.pm writes it (pretty JSON, 3-space indent, final newline; keys sorted),
// to a temporary file in the same directory that is fsync'ed and renamed over the old one, so
// a reader sees either the old or the new file, never a part. The mode of an existing file is
// kept; a new one is 0600 (it holds secrets).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "aemp.hpp"
#include "sluice/internal/aemp/rcfile.hpp"

namespace aemp_tool {

namespace rc = sluice::mp::aemp;

rc_file load_rc_file() {
  rc_file f;
  f.path = rc::rc_path();
  struct stat st {};
  if (::stat(f.path.c_str(), &st) != 0 && errno == ENOENT) {
    f.data = json{{"version", 1}};  // Perl's starting point
    return f;
  }
  std::ifstream in(f.path, std::ios::binary);
  if (!in) throw failure(exit_error, f.path + ": cannot be read: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw failure(exit_error, f.path + ": read error");
  std::string why;
  auto parsed = rc::parse_rc(ss.str(), why);
  if (!parsed) throw failure(exit_error, f.path + ": " + why + " (file left unchanged)");
  f.existed = true;
  f.data = std::move(*parsed);
  return f;
}

namespace {

void write_all(int fd, const std::string& s, const std::string& name) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw failure(exit_error, name + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void save_rc_file(const rc_file& f) {
  std::string text;
  try {
    text = f.data.dump(3, ' ', false, json::error_handler_t::strict) + "\n";
  } catch (const json::exception& e) {
    throw failure(exit_usage, std::string("a value is not valid UTF-8, not written: ") + e.what());
  }
  mode_t mode = 0600;
  struct stat st {};
  if (::stat(f.path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  std::string tmp = f.path + ".aemp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw failure(exit_error, tmp + ": " + std::strerror(errno));
  try {
    ::fchmod(fd, mode);
    write_all(fd, text, tmp);
    if (::fsync(fd) != 0) throw failure(exit_error, tmp + ": fsync: " + std::strerror(errno));
    if (::close(fd) != 0) {
      fd = -1;
      throw failure(exit_error, tmp + ": close: " + std::strerror(errno));
    }
    fd = -1;
    if (::rename(tmp.c_str(), f.path.c_str()) != 0) throw failure(exit_error, f.path + ": rename: " + std::strerror(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  int dfd = ::open(dir_of(f.path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);  // the rename itself on disk; best effort
    ::close(dfd);
  }
}

}  // namespace aemp_tool
