// Runs the real `comptoir` binary for end-to-end tests.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace comptoir::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Path of the binary (COMPTOIR_BINARY, else build/comptoir).
std::string Binary();
// Runs `comptoir args...` with stdout and stderr captured.
CliResult RunCli(const std::vector<std::string>& args, const std::string& env_prefix = "");
// Starts `comptoir args...` in the background; returns its pid.
int StartCli(const std::vector<std::string>& args, const std::string& log_path);
// Shell-quotes one argument.
std::string ShellQuote(const std::string& s);
// Required environment variable: fails the test (via ADD_FAILURE) when unset
// and COMPTOIR_TEST_REQUIRE_SERVICES=1, returns "" so the caller can skip.
std::string ServiceEnv(const char* name);
// ../shared/data directory.
std::string SharedData();
// The checkout's root (scripts/, spark/, tests/).
std::string SourceDir();
// A fresh temporary directory for one test.
std::string TempDir(const std::string& tag);

// A whole file ("" when it cannot be read).
std::string Slurp(const std::string& path);
// Lines in the files below the local lake directory `dir` that a lake reader
// sees: none with a `_` or `.` path component (`_temporary`, staging files),
// so a file renamed from staging during the walk is never counted twice.
size_t PublishedLines(const std::string& dir);
// Today's date in UTC, YYYY-MM-DD (the agent's default day directories).
std::string TodayUtc();
// The agent's files of today in a local lake (`lake`/user/flume/logs/<today>),
// concatenated in byte-range order: equal to the source file once all is published.
std::string AgentLakeLog(const std::string& lake);
// Kills (SIGKILL) and reaps a child still running when it goes out of scope,
// e.g. after a failed assertion; set `pid` to -1 once the child was reaped.
struct ChildReaper {
  int pid;
  ~ChildReaper();
};

// Runs `cmd` with /bin/sh; its standard output.
std::string Shell(const std::string& cmd);

// A plain HTTP request (libcurl): GET, or POST when `post` is not empty.
struct HttpResult {
  long status = 0;
  std::string body;
  std::string headers;
};
HttpResult HttpGet(const std::string& url, const std::vector<std::string>& headers = {},
                   const std::string& post = "", long timeout_ms = 10000);
// Waits for `pattern` (ECMAScript regex with one group) in the file at `path`;
// returns the group, or "" after `timeout_ms`.
std::string WaitForLine(const std::string& path, const std::string& pattern, int timeout_ms);

// A private scripts/stack with its own state file under `dir`, for fault
// tests that kill services without disturbing the shared stack. Stopped by
// the destructor.
class PrivateStack {
 public:
  explicit PrivateStack(std::string dir) : dir_(std::move(dir)) {}
  ~PrivateStack();
  PrivateStack(const PrivateStack&) = delete;
  PrivateStack& operator=(const PrivateStack&) = delete;
  // Starts the services; false when they did not come up (see dir/stack.log).
  bool Start(const std::string& services);
  // A variable the stack exported (COMPTOIR_TEST_KAFKA, ...), or "".
  std::string Env(const std::string& name) const;
  // `scripts/stack ARGS` on this stack ("kill kafka", "restart namenode"); the exit code.
  int Run(const std::string& args);
  // Stops the services now (the destructor does it otherwise). Call it before
  // deleting the directory: the stack's state file is in it.
  void Stop();

 private:
  std::string dir_;
  bool started_ = false;
  std::map<std::string, std::string> env_;
};

}  // namespace comptoir::testing
