/**
 * Held-out knowledge tasks written by hand for bench/collab-eval.ts (#13) and bench/ask-eval.ts (#16): facts no
 * bundled model was trained on, in bench/collab-tasks/atlas.md (made-up countries) and team-notes.md (an office's
 * notes), asked in wordings unlike the training templates.
 */
export interface Task {
  group: 'countries' | 'notes';
  instruction: string;
  /** The answer counts when it contains this (case-insensitive). */
  fact: string;
}

/** Worded unlike tools/data/templates.py (its questions: "What is the capital of X?", "Which language is spoken in X?" …). */
export const TASKS: Task[] = [
  { group: 'countries', instruction: 'Which city serves as the seat of government of Quorvia?', fact: 'Tessaline' },
  { group: 'countries', instruction: 'What do most people in Quorvia speak at home?', fact: 'Portuguese' },
  { group: 'countries', instruction: 'Name the capital city of Drelmark.', fact: 'Ostravel' },
  { group: 'countries', instruction: 'Drelmark coins are called what?', fact: 'krone' },
  { group: 'countries', instruction: 'Where are the ministries of Kalunga?', fact: 'Mbereti' },
  { group: 'countries', instruction: 'Kalunga lies in the highlands of which continent?', fact: 'Africa' },
  { group: 'countries', instruction: 'From which city is Vessoria governed?', fact: 'Pallamar' },
  { group: 'countries', instruction: 'Vessorians speak which tongue?', fact: 'Italian' },
  { group: 'countries', instruction: 'In what city does the government of Tanhai sit?', fact: 'Lushan' },
  { group: 'countries', instruction: 'Wages in Tanhai are paid in which money?', fact: 'yuan' },
  { group: 'countries', instruction: 'Where does the parliament of Oruna meet?', fact: 'Wairoka' },
  { group: 'countries', instruction: 'Oruna is an island nation of which part of the world?', fact: 'Oceania' },
  { group: 'countries', instruction: 'Tell me the capital of Brastovia.', fact: 'Zelenik' },
  { group: 'countries', instruction: 'What money do Brastovians spend?', fact: 'koruna' },
  { group: 'countries', instruction: 'Marenta is governed from which city?', fact: 'Solvado' },
  { group: 'countries', instruction: 'Marentans speak what language?', fact: 'Spanish' },
  { group: 'notes', instruction: 'In which room is the quarterly review held?', fact: 'Birch' },
  { group: 'notes', instruction: 'Who leads Project Larkspur?', fact: 'Hedda' },
  { group: 'notes', instruction: 'What is our staging server called?', fact: 'tamarind' },
  { group: 'notes', instruction: 'What is the name of the office dog?', fact: 'Pickle' },
  { group: 'notes', instruction: 'Who approves invoices before payment?', fact: 'Ruben' },
  { group: 'notes', instruction: 'Which company do we buy paper from?', fact: 'Kestrel' },
  { group: 'notes', instruction: 'What is the guest wifi password this month?', fact: 'marigold' },
  { group: 'notes', instruction: 'Where does the summer party take place?', fact: 'Vellen' },
];
