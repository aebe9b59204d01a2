// What `bgtask doctor` says of a journal, whatever kind it is: each store's diagnosis returns this.
export interface FileReport {
  /** journal.json, the log, journal.mark, the history, its index, the cold queue's segment. */
  role: "snapshot" | "log" | "mark" | "history" | "index" | "queue" | "schema" | "table";
  file: string;
  path: string;
  status: "ok" | "damaged" | "absent";
  /** What is wrong, in the words the commands use; null when nothing is. */
  problem: string | null;
  /** Harmless findings: a dead writer's tail, a cache behind, an older format. */
  notes: string[];
}

export interface DoctorReport {
  home: string;
  healthy: boolean;
  files: FileReport[];
  /** Files a killed writer or an old version left (swept by the next writer), and earlier repairs' copies. */
  leftovers: string[];
  /** Written by a newer bgtask: this one neither judges nor repairs it. */
  newer: boolean;
}
