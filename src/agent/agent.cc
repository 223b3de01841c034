// The agent's loop (one turn: discover, read, seal, roll) and its public face.
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "agent_impl.h"
#include "comptoir/core/names.h"
#include "comptoir/core/strings.h"
#include "comptoir/quality/quarantine.h"

namespace comptoir::agent {

// One turn over every source. Not split: the order of its steps (read, seal,
// let go of drained files, roll with backoff, forget, report) is the
// pipeline's, and reads best in one place.
Status Agent::Impl::Turn(bool draining) {
  auto now = Clock::now();
  if (!draining && now >= next_discover) {
    Discover();
    first_start = false;  // files appearing from now on are read from their start
    next_discover = now + kDiscoverEvery;
  }
  size_t n = sources.size();  // Read() may add generations
  // Memory: the records held between seals, over all files, stay under kSealBytes.
  size_t held = 0;
  for (size_t i = 0; i < n; ++i) held += sources[i]->unsealed.size();
  for (size_t i = 0; i < n; ++i) {
    Source* s = sources[i].get();
    size_t before = s->unsealed.size();
    if (!draining) {
      Status r = Read(s);
      if (!r.ok()) s->last_error = std::string(r.message());
    }
    held += s->unsealed.size() - before;
    const FlowOptions& f = o.flows[s->flow];
    if (!s->unsealed.empty() && (draining || now - s->first_unsealed >= f.seal_interval ||
                                 held >= kSealBytes)) {
      held -= s->unsealed.size();
      RETURN_IF_ERROR(Seal(s));
    }
    // A file renamed or deleted away, drained: let it go.
    if (!draining && s->fd >= 0 && !s->listed && s->size == s->read_pos) {
      if (s->eof_since == Clock::time_point{} || s->read_pos != s->eof_pos) {
        s->eof_since = now;
        s->eof_pos = s->read_pos;
      } else if (now - s->eof_since >= kRotateWait) {
        ::close(s->fd);
        s->fd = -1;
        s->closed = true;
        ++stats.rotations;
        ReleasePartial(s);  // its unterminated last line will never end
        RETURN_IF_ERROR(Seal(s));
      }
    }
    if (RollDue(s, draining)) {
      Status r = s->intent_pending ? FinishRoll(s) : Roll(s);
      if (quality::IsQualityFailed(r)) return r;  // not the lake's fault: retrying cannot help
      if (!r.ok()) {
        // The lake is unavailable: keep the spool, retry with backoff
        // (1 s, 2 s, 4 s, then every 8 s: one cheap request).
        s->last_error = std::string(r.message());
        s->failures = std::min(s->failures + 1, 4);
        s->retry_at = now + std::chrono::milliseconds(500) * (1 << s->failures);
        if (draining) return r;
      }
    }
  }
  // Forget generations that are closed and fully published.
  size_t before = sources.size();
  std::erase_if(sources, [](const auto& s) {
    return s->closed && s->fd < 0 && s->segments.empty() && s->unsealed.empty();
  });
  if (sources.size() != before) RETURN_IF_ERROR(SaveCheckpoint());
  if (now >= next_status) {
    (void)WriteStatus();
    next_status = now + kStatusEvery;
  }
  return absl::OkStatus();
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)), stats_(impl_->stats) {}

Agent::~Agent() {
  for (auto& s : impl_->sources) {
    if (s->fd >= 0) ::close(s->fd);
  }
}

std::string TemplateDataset(std::string_view target_dir) {
  std::string_view fixed = target_dir;
  if (size_t escape = target_dir.find('%'); escape != std::string_view::npos) {
    fixed = target_dir.substr(0, escape);
    fixed = fixed.substr(0, fixed.rfind('/') == std::string_view::npos ? 0 : fixed.rfind('/') + 1);
  }
  while (fixed.size() > 1 && fixed.back() == '/') fixed.remove_suffix(1);
  return std::string(fixed.empty() ? "/" : fixed);
}

StatusOr<std::unique_ptr<Agent>> Agent::Open(lake::Storage* lake, AgentOptions options) {
  if (options.flows.empty()) return absl::InvalidArgumentError("the agent has no flow to run");
  auto impl = std::make_unique<Impl>();
  impl->lake = lake;
  if (options.host.empty()) options.host = core::HostName();
  for (const FlowOptions& f : options.flows) {
    if (f.sources.empty()) {
      return absl::InvalidArgumentError(StrCat("flow ", f.name, " has no source: give --source GLOB"));
    }
    if (f.roll_bytes == 0 || f.roll_interval.count() <= 0) {
      return absl::InvalidArgumentError(StrCat("flow ", f.name, ": the roll size and interval must be positive"));
    }
    auto compile = [&](const std::string& pattern, const char* what,
                       std::vector<std::unique_ptr<RE2>>* into) -> Status {
      if (pattern.empty()) {
        into->push_back(nullptr);
        return absl::OkStatus();
      }
      auto re = std::make_unique<RE2>(pattern);
      if (!re->ok()) {
        return absl::InvalidArgumentError(
            StrCat("flow ", f.name, ": ", what, " pattern \"", pattern, "\": ", re->error()));
      }
      into->push_back(std::move(re));
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(compile(f.multiline_start, "multiline start", &impl->multiline));
    RETURN_IF_ERROR(compile(f.include, "include", &impl->include));
    RETURN_IF_ERROR(compile(f.exclude, "exclude", &impl->exclude));
    std::optional<quality::RowChecker> checker;
    std::optional<quality::RunTally> tally;
    if (!f.rules.empty()) {
      ASSIGN_OR_RETURN(std::string dataset, lake::NormalizePath(TemplateDataset(f.target_dir)));
      bool any = std::any_of(f.rules.begin(), f.rules.end(), [&](const quality::Rule& r) {
        StatusOr<std::string> d = lake::NormalizePath(r.dataset);
        return d.ok() && *d == dataset;
      });
      if (any) {
        std::vector<quality::Rule> rules = f.rules;
        for (quality::Rule& r : rules) r.dataset = lake::NormalizePath(r.dataset).value_or(r.dataset);
        StatusOr<quality::RowChecker> c = quality::RowChecker::Create(
            rules, dataset, {"ts", "level", "host", "path", "message"}, quality::LakeColumnValues(lake));
        if (!c.ok()) return Annotate(c.status(), StrCat("flow ", f.name, " (log records have the columns ts, level, host, path, message)"));
        checker = *std::move(c);
        tally.emplace(*checker, dataset, "agent");
      }
    }
    impl->checkers.push_back(std::move(checker));
    impl->tallies.push_back(std::move(tally));
  }
  impl->o = std::move(options);
  RETURN_IF_ERROR(impl->Recover());
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

Status Agent::Step() {
  RETURN_IF_ERROR(impl_->Turn(false));
  impl_->RecordQuality(false);
  return absl::OkStatus();
}

Status Agent::Drain() {
  RETURN_IF_ERROR(impl_->Turn(false));  // read what is there
  RETURN_IF_ERROR(impl_->Turn(true));
  impl_->RecordQuality(true);
  return impl_->WriteStatus();
}

void Agent::Impl::RecordQuality(bool force) {
  for (std::optional<quality::RunTally>& t : tallies) {
    if (!t) continue;
    // Kept for the next try when the lake refuses: the counts are not lost.
    if (Status s = t->RecordIfDue(lake, force); !s.ok()) spdlog::warn("agent: data quality history: {}", s.ToString());
  }
}

Status Agent::Run(const std::function<bool()>& stop) {
  while (!stop()) {
    uint64_t before = impl_->bytes_read;
    RETURN_IF_ERROR(Step());
    // Busy: go on at once. Idle: poll the files again in 10 ms.
    if (impl_->bytes_read == before) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Drain();
}

std::vector<FileStatus> Agent::Files() const { return impl_->Files(); }

bool Agent::CaughtUp() const {
  return std::all_of(impl_->sources.begin(), impl_->sources.end(),
                     [](const auto& s) { return s->fd < 0 || s->read_pos >= s->size; });
}

}  // namespace comptoir::agent
