// `doppler compare`: every configured placement on the same graph, machine and cost model, side by
// side with the lower bound (table, --json, --csv, --plot).
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "bar_chart_svg.hpp"
#include "commands.hpp"
#include "doppler/file_io.hpp"
#include "doppler/number_format.hpp"
#include "doppler/trace.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

struct Row {
  std::string method;
  Plan plan;
  sim::SimResult result;
  double place_ms = 0;
  double mean_utilisation = 0;
};

void compare(const RunFlags& flags) {
  const Experiment e = resolve(flags);
  const auto workload = load(e);
  sim::Simulator simulator(workload->graph, workload->machine, workload->model);
  const double lower_bound = simulator.lower_bound();

  std::vector<Row> rows;
  for (const PlacementSpec& placement : e.placements) {
    Row row;
    row.method = placement.label;
    const auto start = std::chrono::steady_clock::now();
    row.plan = make_plan(placement, simulator, e.seed, flags.search_evaluations);
    row.place_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    row.result = simulator.run(row.plan);
    for (double u : row.result.utilisation)
      row.mean_utilisation += u / static_cast<double>(row.result.utilisation.size());
    rows.push_back(std::move(row));
  }
  const auto best = std::min_element(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.result.makespan < b.result.makespan;
  });
  const double best_makespan = best->result.makespan;
  const auto to_lower_bound = [&](const Row& r) {
    return lower_bound > 0 ? r.result.makespan / lower_bound : 1.0;
  };
  const auto to_best = [&](const Row& r) {
    return best_makespan > 0 ? r.result.makespan / best_makespan : 1.0;
  };

  const sim::SimResult best_traced = e.trace.empty() ? sim::SimResult{} : simulator.run(best->plan, true);
  if (!e.trace.empty()) save_trace(best_traced.trace, workload->graph, e.trace);
  if (!e.plan_output.empty()) save_plan(best->plan, e.plan_output);
  if (!e.csv_output.empty()) {
    std::string csv =
        "method,makespan,lower_bound,ratio_to_lower_bound,ratio_to_best,transfers,transfer_bytes,mean_"
        "utilisation\n";
    for (const Row& r : rows) {
      csv += csv_field(r.method) + "," + format_number(r.result.makespan) + "," + format_number(lower_bound) +
             "," + format_number(to_lower_bound(r)) + "," + format_number(to_best(r)) + "," +
             std::to_string(r.result.transfers) + "," + format_number(r.result.transfer_bytes) + "," +
             format_number(r.mean_utilisation) + "\n";
    }
    write_file_atomically(e.csv_output, csv);
  }
  if (!e.plot_output.empty()) {
    std::vector<Bar> bars;
    for (const Row& r : rows)
      bars.push_back({r.method, r.result.makespan, format_short(r.result.makespan, 4)});
    const std::string title = e.name + ": makespan by placement (" + sim::to_string(workload->model) +
                              " model, " + std::to_string(workload->machine.num_devices()) + " devices)";
    write_file_atomically(e.plot_output, bar_chart_svg(title, bars, lower_bound,
                                                       "lower bound " + format_short(lower_bound, 4)));
  }

  if (flags.json) {
    nlohmann::ordered_json j = inputs_json(e, *workload);
    j["lower_bound"] = lower_bound;
    j["best"] = best->method;
    if (!unavailable_methods().empty()) j["unavailable"] = unavailable_methods();
    j["results"] = nlohmann::ordered_json::array();
    for (const Row& r : rows) {
      j["results"].push_back({{"method", r.method},
                              {"makespan", r.result.makespan},
                              {"ratio_to_lower_bound", to_lower_bound(r)},
                              {"ratio_to_best", to_best(r)},
                              {"transfers", r.result.transfers},
                              {"transfer_bytes", r.result.transfer_bytes},
                              {"mean_utilisation", r.mean_utilisation},
                              {"place_ms", r.place_ms}});
    }
    for (const auto& [key, path] : {std::pair{"trace", e.trace}, std::pair{"plan", e.plan_output},
                                    std::pair{"csv", e.csv_output}, std::pair{"plot", e.plot_output}}) {
      if (!path.empty()) j[key] = path;
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  using Align = TextTable::Align;
  TextTable table({{"method", Align::left},
                   {"makespan", Align::right},
                   {"/ lower bound", Align::right},
                   {"/ best", Align::right},
                   {"transfers", Align::right},
                   {"utilisation", Align::right}});
  for (const Row& r : rows) {
    table.add_row({r.method + (&r == &*best ? " *" : ""), format_number(r.result.makespan),
                   ratio_text(to_lower_bound(r)), ratio_text(to_best(r)), std::to_string(r.result.transfers),
                   percent_text(r.mean_utilisation)});
  }
  table.add_row({"lower bound", format_number(lower_bound), ratio_text(1.0), "", "", ""});
  std::cout
      << inputs_line(e, *workload) << "\n\n"
      << table.render() << "\n"
      << "* best. lower bound = max(critical path without communication, total work / devices; with the "
         "host modelled, also the launches of the busiest host thread)\n";
  for (const std::string& method : unavailable_methods()) {
    std::cout << "not built: " << method << " (install its library and re-run CMake)\n";
  }
  for (const auto& [what, path] :
       {std::pair{"trace of the best", e.trace}, std::pair{"plan of the best", e.plan_output},
        std::pair{"csv", e.csv_output}, std::pair{"plot", e.plot_output}}) {
    if (!path.empty()) std::cout << "wrote " << what << ": " << path << "\n";
  }
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* command = app.add_subcommand(
      "compare", "Compare placement methods on one graph and machine, side by side with the lower bound");
  add_input_flags(*command, *flags);
  add_search_flag(*command, *flags);
  flags->placements_opt =
      command
          ->add_option(
              "--methods", flags->placements,
              "Comma-separated methods and/or plan files (default: the config's placements, else every "
              "heuristic: random, round_robin, critical_path, heft, etf, metis, eindecomp; local_search is "
              "the optimiser, on request)")
          ->type_name("M,M,...")
          ->delimiter(',');
  flags->trace_opt =
      command->add_option("--trace", flags->trace, "Write the best placement's trace: .json or .csv")
          ->type_name("OUT");
  flags->plan_opt =
      command
          ->add_option("--save-plan", flags->plan_output, "Write the best placement's plan: .yaml or .json")
          ->type_name("OUT");
  flags->csv_opt =
      command->add_option("--csv", flags->csv_output, "Write the results table as CSV")->type_name("OUT.csv");
  flags->plot_opt = command
                        ->add_option("--plot", flags->plot_output,
                                     "Write a bar chart of the makespans with the lower bound (SVG)")
                        ->type_name("OUT.svg");
  command->callback([flags] { compare(*flags); });
}

}  // namespace doppler::cli
