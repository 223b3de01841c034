#include "common.h"

#include <chrono>

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "comptoir/core/signals.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace comptoir::cli {

int ExitCodeFor(const Status& s) {
  if (s.ok()) return 0;
  if (absl::IsAborted(s)) return 130;
  return 1;
}

int Fail(std::string_view command, const Status& s) {
  std::string msg(s.message());
  spdlog::error("{}: {}", command, msg);
  return ExitCodeFor(s);
}

namespace {
std::string& DefaultHdfsUser() {
  static auto* user = new std::string();
  return *user;
}
}  // namespace

void SetDefaultHdfsUser(std::string user) { DefaultHdfsUser() = std::move(user); }

StatusOr<std::unique_ptr<lake::Storage>> OpenLake(const std::string& uri_or_dir) {
  std::string uri = uri_or_dir;
  if (uri.starts_with("webhdfs://") && !DefaultHdfsUser().empty() &&
      uri.find("user=") == std::string::npos && uri.find('@') == std::string::npos) {
    uri += StrCat(uri.find('?') == std::string::npos ? "?" : "&", "user=", DefaultHdfsUser());
  }
  return lake::OpenStorage(uri);
}

StatusOr<std::unique_ptr<coord::Coordinator>> OpenCoordination(const Globals& g, const std::string& uri_flag) {
  std::string uri = !uri_flag.empty() ? uri_flag : g.config.GetString("coord.uri");
  if (uri.empty()) {
    const char* home = std::getenv("HOME");
    uri = StrCat("local://", home != nullptr ? home : ".", "/.comptoir/coord");
  }
  return coord::OpenCoordinator(uri);
}

std::string NameHash(std::string_view text) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

StatusOr<std::unique_ptr<coord::Lock>> TakeArchiverLock(coord::Coordinator* c, const std::string& bus_uri,
                                                        const std::string& topic) {
  std::string name = fmt::format("archiver/{}-{}", NameHash(topic), NameHash(bus_uri));
  std::string holder = fmt::format("{} pid {}", HostName(), getpid());
  bool said = false;
  while (!core::Cancelled()) {
    StatusOr<std::unique_ptr<coord::Lock>> lock = c->Acquire(name, holder, std::chrono::milliseconds(500));
    if (lock.ok()) {
      if (said) std::cerr << "archive: now the active archiver of " << topic << "\n";
      return lock;
    }
    if (!absl::IsFailedPrecondition(lock.status())) return lock.status();
    if (!said) {  // a state change, not progress: said even with --quiet
      std::cerr << fmt::format("archive: standby: another archiver is active for {} on {} ({}); waiting\n", topic,
                               bus_uri, std::string(lock.status().message()));
      said = true;
    }
  }
  return std::unique_ptr<coord::Lock>();
}

std::string HostName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

StatusOr<std::string> ReadPasswordFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoToStatus(errno, StrCat("--password-file ", path));
  if ((st.st_mode & 0077) != 0) {
    return absl::PermissionDeniedError(
        fmt::format("--password-file {} can be read by other users (mode {:04o}); run `chmod 600 "
                    "{}` first",
                    path, st.st_mode & 07777, path));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string pw = ss.str();
  // Unlike Sqoop, one trailing newline (as `echo secret > file` writes) is not
  // part of the password.
  if (pw.ends_with("\r\n")) {
    pw.resize(pw.size() - 2);
  } else if (pw.ends_with('\n')) {
    pw.pop_back();
  }
  return pw;
}

StatusOr<std::string> PromptPassword(const std::string& prompt) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (tty == nullptr) {
    return absl::FailedPreconditionError("-P needs a terminal; use --password-file instead");
  }
  std::fputs(prompt.c_str(), tty);
  std::fflush(tty);
  termios old {};
  tcgetattr(fileno(tty), &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
  char buf[1024];
  bool ok = std::fgets(buf, sizeof(buf), tty) != nullptr;
  tcsetattr(fileno(tty), TCSAFLUSH, &old);
  std::fputs("\n", tty);
  std::fclose(tty);
  if (!ok) return absl::AbortedError("no password entered");
  std::string pw = buf;
  if (pw.ends_with('\n')) pw.pop_back();
  return pw;
}

}  // namespace comptoir::cli

namespace comptoir::cli {

void ConnectionFlags::Add(CLI::App* app) {
  app->add_option("--connect", connect,
                  "Database URL: mysql://user@host:port/db, jdbc:mysql://host:port/db, "
                  "postgresql://user@host:port/db, sqlite:///path.db")
      ->required();
  app->add_option("--username", username, "Database user (overrides the URL's)");
  app->add_option("--password-file", password_file,
                  "File holding the password (must not be readable by others)");
  app->add_option("--password", password,
                  "Password on the command line (insecure; prefer --password-file or -P)");
  app->add_flag("-P", prompt, "Prompt for the password on the terminal");
}

StatusOr<source::ConnectOptions> ConnectionFlags::Resolve() const {
  source::ConnectOptions o;
  o.url = connect;
  o.username = username;
  int given = !password_file.empty() + !password.empty() + prompt;
  if (given > 1) {
    return absl::InvalidArgumentError("give only one of --password-file, --password and -P");
  }
  if (!password_file.empty()) {
    ASSIGN_OR_RETURN(o.password, ReadPasswordFile(password_file));
  } else if (!password.empty()) {
    spdlog::warn("Setting your password on the command-line is insecure. Consider using -P "
                 "instead.");
    o.password = password;
  } else if (prompt) {
    ASSIGN_OR_RETURN(o.password, PromptPassword("Enter password: "));
  }
  return o;
}

std::string BusUri(const Globals& g, const std::string& flag) {
  std::string text = flag.empty() ? g.config.GetString("bus.uri") : flag;
  if (text.empty() || text == "none" || text.find("://") != std::string::npos) return text;
  return "log://" + std::filesystem::absolute(text).lexically_normal().string();
}

}  // namespace comptoir::cli
