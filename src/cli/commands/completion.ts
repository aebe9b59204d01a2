// Shell completion through @bomb.sh/tab: `bgtask completion bash|zsh|fish` prints the script a
// shell loads; at each Tab that script asks `bgtask complete -- <words>`, answered here from the
// commander tree (commands, flags) and, for `run`, the executors in the tasks directory.
import type { Command } from "commander";
import completions, { script, type Command as TabCommand } from "@bomb.sh/tab";
import { loadConfig } from "../../config/config.ts";
import { discoverExecutors } from "../../executor/discover.ts";

function executorNames(): string[] {
  try {
    return discoverExecutors(loadConfig({}).tasksDir).found.map((e) => e.name);
  } catch {
    return []; // no project here, or a config that does not load: nothing to offer
  }
}

function addOptions(target: TabCommand, command: Command): void {
  for (const option of command.createHelp().visibleOptions(command)) {
    const name = option.long?.slice(2);
    if (!name) continue;
    // A handler marks a flag that takes a value, so the word after it is not read as a command.
    if (option.required || option.optional) target.option(name, option.description, () => {});
    else target.option(name, option.description);
  }
}

function describeTree(program: Command): void {
  addOptions(completions, program);
  for (const command of program.createHelp().visibleCommands(program)) {
    if (command.name() === "help") continue;
    const target = completions.command(command.name(), command.description());
    addOptions(target, command);
    for (const argument of command.registeredArguments) {
      const choices = command.name() === "run" && argument.name() === "executor" ? executorNames() : (argument.argChoices ?? []);
      target.argument(
        argument.name(),
        (complete) => {
          for (const choice of choices) complete(choice, "");
        },
        argument.variadic,
      );
    }
  }
}

export function completion(shell: string): void {
  script(shell, "bgtask", "bgtask");
}

export function complete(program: Command, words: string[]): void {
  describeTree(program);
  completions.parse(words);
}
