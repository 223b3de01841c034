#include "cli_runner.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>

extern char** environ;

namespace comptoir::testing {

std::string Binary() {
  const char* b = std::getenv("COMPTOIR_BINARY");
  return b != nullptr ? b : COMPTOIR_DEFAULT_BINARY;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t PublishedLines(const std::string& dir) {
  namespace fs = std::filesystem;
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with('_') || name.starts_with('.')) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    std::string data = Slurp(it->path().string());
    n += static_cast<size_t>(std::count(data.begin(), data.end(), '\n'));
  }
  return n;
}

CliResult RunCli(const std::vector<std::string>& args, const std::string& env_prefix) {
  std::string dir = TempDir("cli");
  std::string cmd = env_prefix + " " + ShellQuote(Binary()) + " --quiet";
  for (const std::string& a : args) cmd += " " + ShellQuote(a);
  cmd += " >" + dir + "/out 2>" + dir + "/err </dev/null";
  int rc = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = Slurp(dir + "/out");
  r.err = Slurp(dir + "/err");
  std::filesystem::remove_all(dir);
  return r;
}

int StartCli(const std::vector<std::string>& args, const std::string& log_path) {
  std::string cmd = "exec " + ShellQuote(Binary()) + " --quiet";
  for (const std::string& a : args) cmd += " " + ShellQuote(a);
  cmd += " >" + ShellQuote(log_path) + " 2>&1 </dev/null";
  pid_t pid = 0;
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
    return -1;
  }
  return pid;
}

std::string ServiceEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') return v;
  const char* req = std::getenv("COMPTOIR_TEST_REQUIRE_SERVICES");
  if (req != nullptr && std::string(req) == "1") {
    ADD_FAILURE() << name << " is not set although the test stack should be running";
  }
  return "";
}

std::string SourceDir() { return COMPTOIR_SOURCE_DIR; }

std::string SharedData() {
  const char* d = std::getenv("COMPTOIR_SHARED_DATA");
  return d != nullptr ? d : COMPTOIR_SHARED_DATA_DIR;
}

std::string TempDir(const std::string& tag) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("comptoir-" + tag + "-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* d = mkdtemp(buf.data());
  return d == nullptr ? std::string() : std::string(d);
}

namespace {
size_t CollectHttp(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}
}  // namespace

HttpResult HttpGet(const std::string& url, const std::vector<std::string>& headers, const std::string& post,
                   long timeout_ms) {
  HttpResult r;
  CURL* c = curl_easy_init();
  curl_slist* h = nullptr;
  for (const auto& x : headers) h = curl_slist_append(h, x.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, CollectHttp);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, CollectHttp);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (!post.empty()) curl_easy_setopt(c, CURLOPT_POSTFIELDS, post.c_str());
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return r;
}

std::string TodayUtc() {
  std::time_t now = std::time(nullptr);
  char day[16];
  std::strftime(day, sizeof(day), "%Y-%m-%d", std::gmtime(&now));
  return day;
}

ChildReaper::~ChildReaper() {
  if (pid > 0 && kill(pid, 0) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string WaitForLine(const std::string& path, const std::string& pattern, int timeout_ms) {
  std::regex re(pattern);
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::smatch m;
    if (std::regex_search(text, m, re)) return m[1];
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "";
}

std::string AgentLakeLog(const std::string& lake) {
  std::map<uint64_t, std::string> parts;
  std::filesystem::path day = std::filesystem::path(lake) / "user/flume/logs" / TodayUtc();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(day, ec)) {
    std::string name = e.path().filename().string();
    if (name.starts_with('.')) continue;  // a roll being written
    std::string range = name.substr(name.rfind('.') + 1);
    parts[std::stoull(range.substr(0, range.find('-')))] = Slurp(e.path());
  }
  std::string all;
  for (const auto& [start, data] : parts) all += data;
  return all;
}

PrivateStack::~PrivateStack() { Stop(); }

void PrivateStack::Stop() {
  if (started_) Run("stop");
  started_ = false;
}

int PrivateStack::Run(const std::string& args) {
  std::string cmd = "COMPTOIR_STACK_STATE=" + dir_ + "/stack.env " + COMPTOIR_SOURCE_DIR +
                    "/scripts/stack " + args + " 2>>" + dir_ + "/stack.log";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool PrivateStack::Start(const std::string& services) {
  started_ = true;
  if (Run("start " + services + " >" + dir_ + "/exports") != 0) return false;
  std::ifstream in(dir_ + "/exports");
  std::string line;
  while (std::getline(in, line)) {
    // export NAME='value'
    if (!line.starts_with("export ") || line.size() < 10 || line.back() != '\'') continue;
    size_t eq = line.find("='");
    if (eq == std::string::npos) continue;
    env_[line.substr(7, eq - 7)] = line.substr(eq + 2, line.size() - eq - 3);
  }
  return true;
}

std::string PrivateStack::Env(const std::string& name) const {
  auto it = env_.find(name);
  return it == env_.end() ? "" : it->second;
}

}  // namespace comptoir::testing
