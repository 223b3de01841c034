// Runs the real `comptoir` binary for end-to-end tests.
#pragma once

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
// A fresh temporary directory for one test.
std::string TempDir(const std::string& tag);

}  // namespace comptoir::testing
