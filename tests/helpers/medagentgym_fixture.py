"""A small made-up MedAgentGym data folder, one sub-folder per data set, in MedAgentGym's record
schemas (every record here is invented for the tests), and a tiny made-up MIMIC-III in the PhysioNet
CSV layout for the EHR data sets to be checked against.

Each record's ``_expect`` is not part of MedAgentGym's schema: it names the reason code kernelgym's
importer must give for leaving the record out, or ``"imported"``; it is stripped before writing.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------- MedCalc-Bench


def _medcalc(row: int, calc_id: int, name: str, note: str, question: str, entities: dict[str, Any],
             answer: Any, lower: Any, upper: Any, expect: str) -> dict[str, Any]:
    return {"Row Number": row, "Calculator ID": calc_id, "Calculator Name": name, "Patient Note": note,
            "Question": question, "Relevant Entities": repr(entities), "Ground Truth Answer": answer,
            "Lower Limit": lower, "Upper Limit": upper, "_expect": expect}


BMI = "Body Mass Index (BMI)"
MEDCALC_TEST = [
    _medcalc(9001, 6, BMI, "A 40-year-old man comes for a check-up. He weighs 70 kg and is 175 cm tall.",
             "What is the patient's body mass index (BMI) in kg/m²?", {"weight": [70, "kg"], "height": [175, "cm"]},
             "22.857", "21.714", "24.0", "imported"),
    _medcalc(9002, 33, "FeverPAIN Score for Strep Pharyngitis",
             "A 19-year-old woman has had a sore throat for a week, a fever yesterday and pus on both tonsils. "
             "She has a cough.", "What is the patient's FeverPAIN score?",
             {"Fever in past 24 hours": True, "Purulent tonsils": True}, "2", "2", "2", "imported"),
    _medcalc(9003, 68, "Estimated of Conception date",
             "A 29-year-old woman's last menstrual period started on 01/10/2024; her cycles last 28 days.",
             "Using the last menstrual period, estimate the date of conception (MM/DD/YYYY).",
             {"Last menstrual date": "01/10/2024"}, "01/24/2024", "01/24/2024", "01/24/2024", "imported"),
    # the recorded answer lies outside its own limits
    _medcalc(9004, 6, BMI, "A 52-year-old woman weighs 80 kg and is 160 cm tall.",
             "What is the patient's BMI in kg/m²?", {"weight": [80, "kg"], "height": [160, "cm"]},
             "31.25", "20.0", "25.0", "answer_outside_limits"),
    # not one of MedCalc-Bench's calculators
    _medcalc(9005, 999, "Made-up Score", "A patient.", "What is the made-up score?", {}, "3", "3", "3",
             "unknown_calculator"),
    # the label departs from the published formula (70 kg, 175 cm give 22.86, not 30)
    _medcalc(9006, 6, BMI, "A 61-year-old man weighs 70 kg and is 175 cm tall.",
             "What is the patient's body mass index?", {"weight": [70, "kg"], "height": [175, "cm"]},
             "30.0", "28.5", "31.5", "label_departs_from_formula"),
]
MEDCALC_TRAIN = [
    _medcalc(12, 5, "Mean Arterial Pressure (MAP)",
             "A 45-year-old man's blood pressure at triage is 120/80 mm Hg.",
             "What is the patient's mean arterial pressure in mm Hg?",
             {"Systolic Blood Pressure": [120, "mm Hg"], "Diastolic Blood Pressure": [80, "mm Hg"]},
             "93.333", "88.666", "98.0", "imported"),
]
CALCULATION_METHODS = [
    {"Calculator": BMI, "Short Summary": "BMI = weight (kg) / height (m)^2"},
]

# ---------------------------------------------------------------- N-PowerAI


def _npower(task_type: str, target: str, question: str, answer: Any, expect: str, task_id: int = 1) -> dict[str, Any]:
    return {"task_type": task_type, "task_id": task_id, "estimate_target": target, "question": question,
            "answer": answer, "_expect": expect}


TWO_ARM = ("A trial will compare a new inhaler with the standard one in adults with asthma, with equal groups. "
           "The expected difference in morning peak flow corresponds to a standardised effect size (Cohen's d) "
           "of {d}, and the test is a two-sided two-sample t-test at a significance level of 0.05.")
NPOWER_TEST = [
    _npower("Two-sample t-test", "size", TWO_ARM.format(d=0.8) + " How many patients are needed per group for "
            "80% power?", 26, "imported"),
    _npower("Two-sample t-test", "power", TWO_ARM.format(d=0.5) + " With 30 patients per group, what is the "
            "power?", 0.4779, "imported"),
    # a sample size that is not a whole number cannot be graded exactly
    _npower("Two-sample t-test", "size", TWO_ARM.format(d=0.7) + " What sample size per group gives 85% power?",
            38.5, "not_a_whole_number"),
    _npower("Two-sample t-test", "power", TWO_ARM.format(d=0.9) + " With 12 patients per group, what is the "
            "power?", 1.3, "power_out_of_range"),
    _npower("Two-sample t-test", "effect", TWO_ARM.format(d=0.4) + " What effect size is detectable?", 0.4,
            "unsupported_target"),
    # the same question twice with different answers
    _npower("Two-sample t-test", "size", TWO_ARM.format(d=0.6) + " How many per group for 90% power?", 60,
            "conflicting_duplicates"),
    _npower("Two-sample t-test", "size", TWO_ARM.format(d=0.6) + " How many per group for 90% power?", 61,
            "conflicting_duplicates"),
]
NPOWER_TRAIN = [
    _npower("One-sample t-test", "size",
            "A single-arm study of a diet in adults with hypertension expects a mean fall in systolic pressure "
            "of 6 mmHg with a standard deviation of 10 mmHg (effect size 0.6), tested two-sided at 0.05 with a "
            "one-sample t-test. How many participants give 90% power?", 32, "imported", task_id=2),
]

# ---------------------------------------------------------------- BioCoder

GC_SOLUTION = textwrap.dedent('''\
    def gc_fraction(seq):
        """The fraction of G and C in a DNA sequence."""
        seq = seq.upper()
        return round(sum(base in "GC" for base in seq) / len(seq), 4) if seq else 0.0''')

GC_CONTEXT = textwrap.dedent('''\
    import random
    def random_dna(n):
        return "".join(random.choice("ACGT") for _ in range(n))
    <<insert solution here>>
    def main():
        random.seed(7)
        for n in (10, 25, 40):
            print(gc_fraction(random_dna(n)))
    if __name__ == "__main__":
        main()''')

METHOD_SOLUTION = textwrap.dedent('''\
    def reverse_complement(self):
        pairs = {"A": "T", "C": "G", "G": "C", "T": "A"}
        return "".join(pairs[b] for b in reversed(self.seq))''')

METHOD_CONTEXT = textwrap.dedent('''\
    import random
    class Read:
        def __init__(self, seq):
            self.seq = seq
        <<insert solution here>>
    def main():
        random.seed(3)
        read = Read("".join(random.choice("ACGT") for _ in range(30)))
        print(read.seq)
        print(read.reverse_complement())
    if __name__ == "__main__":
        main()''')


def _biocoder(idx: str, problem: str, signature: str, solution: str, context: str, expect: str,
              code: str | None = None) -> dict[str, Any]:
    if code is None:
        code = context.replace("<<insert solution here>>", solution)
    return {"idx": idx, "problem": problem, "solution": solution, "context": context, "signature": signature,
            "code": code, "_expect": expect}


HAS_GC_SOLUTION = textwrap.dedent('''\
    def has_gc(seq):
        return any(base in "GC" for base in seq.upper())''')

HAS_GC_CONTEXT = textwrap.dedent('''\
    <<insert solution here>>
    def main():
        for seq in ("ACGT", "GGA", "ttc"):
            print(has_gc(seq))
    if __name__ == "__main__":
        main()''')

UPPER_SOLUTION = textwrap.dedent('''\
    def canonical(seq):
        return seq.strip().upper()''')

UPPER_CONTEXT = textwrap.dedent('''\
    <<insert solution here>>
    def main():
        for seq in ("ACGT", "TTGA"):
            print(canonical(seq))
    if __name__ == "__main__":
        main()''')

# BioCoder's contexts import scikit-image and pysam in their boilerplate (CellProfiler and sequencing tools):
# the biomed profile has both, so such a record is graded, not left out as `reference_failed`
OBJECTS_SOLUTION = textwrap.dedent('''\
    def count_objects(mask):
        """The number of 4-connected objects of a binary mask."""
        return int(skimage.measure.label(numpy.asarray(mask), connectivity=1).max())''')

OBJECTS_CONTEXT = textwrap.dedent('''\
    import numpy
    import pysam
    import skimage.measure
    <<insert solution here>>
    def main():
        numpy.random.seed(11)
        for size in (4, 6, 8):
            print(count_objects(numpy.random.rand(size, size) > 0.5))
    if __name__ == "__main__":
        main()''')

BIOCODER_TEST = [
    _biocoder("b1", "This is in python\nWrite a function gc_fraction(seq) that returns the fraction of G and C "
              "bases in a DNA sequence, rounded to 4 decimals (0.0 for an empty sequence).",
              "def gc_fraction(seq)", GC_SOLUTION, GC_CONTEXT, "imported"),
    _biocoder("b2", "This is in python\nWrite a method reverse_complement(self) of the class Read that returns the "
              "reverse complement of the read's sequence self.seq.", "def reverse_complement(self)",
              METHOD_SOLUTION, METHOD_CONTEXT, "imported",
              code=METHOD_CONTEXT.replace("    <<insert solution here>>", textwrap.indent(METHOD_SOLUTION, "    "))),
    # the reference program prints nothing: MedAgentGym passes any program that prints nothing
    _biocoder("b3", "Write gc_fraction(seq).", "def gc_fraction(seq)", GC_SOLUTION,
              GC_CONTEXT.replace("print(gc_fraction(random_dna(n)))", "gc_fraction(random_dna(n))"),
              "reference_prints_nothing"),
    # the context defines the function again after the marker: its output never depends on the solution
    _biocoder("b4", "Write gc_fraction(seq).", "def gc_fraction(seq)", GC_SOLUTION,
              GC_CONTEXT.replace("<<insert solution here>>", "<<insert solution here>>\n"
                                 "def gc_fraction(seq):\n    return 0.5"), "output_independent_of_solution"),
    # the reference program fails here (a package that does not exist)
    _biocoder("b5", "Write gc_fraction(seq).", "def gc_fraction(seq)", GC_SOLUTION,
              "import no_such_package_kg\n" + GC_CONTEXT, "reference_failed"),
    # unseeded randomness: the output changes from run to run
    _biocoder("b6", "Write gc_fraction(seq).", "def gc_fraction(seq)", GC_SOLUTION,
              GC_CONTEXT.replace("random.seed(7)", "pass"), "nondeterministic_reference"),
    _biocoder("b7", "Write gc_fraction(seq).", "def gc_fraction(seq)", GC_SOLUTION,
              GC_CONTEXT.replace("<<insert solution here>>\n", ""), "no_marker"),
    # the record's `code` prints something else than its context with its solution
    _biocoder("b8", "Write gc_fraction(seq).", "def gc_fraction(seq)", GC_SOLUTION, GC_CONTEXT, "reference_mismatch",
              code=GC_CONTEXT.replace("<<insert solution here>>", GC_SOLUTION).replace("seed(7)", "seed(8)")),
    # every input the context tries contains G or C: `return True` prints what the reference prints
    _biocoder("b9", "Write has_gc(seq): whether a DNA sequence contains G or C.", "def has_gc(seq)", HAS_GC_SOLUTION,
              HAS_GC_CONTEXT, "dummy_function_passes"),
    # the context only tries sequences that are already canonical: handing the input back passes
    _biocoder("b10", "Write canonical(seq): the sequence upper-cased, without surrounding spaces.", "def canonical(seq)",
              UPPER_SOLUTION, UPPER_CONTEXT, "dummy_function_passes"),
    _biocoder("b11", "This is in python\nWrite count_objects(mask): the number of 4-connected objects of a binary "
              "image mask (use scikit-image).", "def count_objects(mask)", OBJECTS_SOLUTION, OBJECTS_CONTEXT, "imported"),
]

# ---------------------------------------------------------------- a tiny made-up MIMIC-III

MIMIC_CSV = {
    "PATIENTS": ["row_id,subject_id,gender,dob,dod,dod_hosp,dod_ssn,expire_flag",
                 "1,501,F,2050-03-01 00:00:00,,,,0",
                 "2,502,M,2041-07-12 00:00:00,,,,0"],
    "ADMISSIONS": ["row_id,subject_id,hadm_id,admittime,dischtime,admission_type,insurance,ethnicity,diagnosis,"
                   "hospital_expire_flag,has_chartevents_data",
                   "1,501,100001,2105-02-03 10:00:00,2105-02-09 12:00:00,EMERGENCY,Medicare,WHITE,PNEUMONIA,0,1",
                   "2,502,100002,2105-05-01 08:30:00,2105-05-04 09:00:00,ELECTIVE,Private,ASIAN,CHEST PAIN,0,1",
                   "3,502,100003,2106-01-11 22:15:00,2106-01-20 10:00:00,EMERGENCY,Private,ASIAN,SEPSIS,0,1"],
    "PRESCRIPTIONS": ["row_id,subject_id,hadm_id,startdate,enddate,drug_type,drug,route",
                      "1,501,100001,2105-02-03 00:00:00,2105-02-05 00:00:00,MAIN,zyloprim-kg,PO",
                      "2,501,100001,2105-02-04 00:00:00,2105-02-06 00:00:00,MAIN,zyloprim-kg,NG",
                      "3,502,100002,2105-05-01 00:00:00,2105-05-02 00:00:00,MAIN,heparin-kg,IV",
                      "4,502,100003,2106-01-12 00:00:00,2106-01-13 00:00:00,MAIN,zyloprim-kg,PO"],
}


def _ehrsql(question: str, template: str, query: str, answer: list[Any], expect: str, rid: str,
            impossible: bool = False) -> dict[str, Any]:
    return {"db_id": "mimic_iii", "question": question, "template": template, "query": query, "value": {},
            "q_tag": template, "tag": template, "is_impossible": impossible, "split": "valid", "id": rid,
            "answer": answer, "_expect": expect}


MIMIC_VALID = [
    _ehrsql("how is zyloprim-kg given?", "what is the intake method of zyloprim-kg?",
            "select distinct prescriptions.route from prescriptions where prescriptions.drug = 'zyloprim-kg'",
            ["po", "ng"], "imported", "m1"),
    # the query means different things in SQLite (integer division: the recorded 1) and DuckDB (1.5)
    _ehrsql("how many admissions per patient?", "how many admissions does each patient have?",
            "select count(*) / count(distinct subject_id) from admissions", ["1"], "engine_dependent_query", "m2"),
    # SQLite SQL that DuckDB cannot run (its datetime() modifiers): checked with SQLite alone
    _ehrsql("how many admissions were there in 2105?", "count the number of hospital admissions in 2105.",
            "select count(*) from admissions where datetime(admissions.admittime, 'start of year') = "
            "'2105-01-01 00:00:00'", ["2"], "imported", "m10"),
    # a failed SQL run: MedAgentGym's check would pass an error message that contains the answer
    _ehrsql("what is the price of zyloprim-kg?", "what is the cost of a drug named zyloprim-kg?",
            "select distinct cost.cost from cost where cost.event_type = 'prescriptions'", ["0"], "sql_failed", "m3"),
    # the query runs, but the recorded answer was computed on another database
    _ehrsql("how is heparin-kg given?", "what is the intake method of heparin-kg?",
            "select distinct prescriptions.route from prescriptions where prescriptions.drug = 'heparin-kg'",
            ["sc"], "sql_result_differs", "m4"),
    _ehrsql("what is the blood type of patient 501?", "what is the blood type of patient 501?", "nan", [],
            "imported", "m5", impossible=True),
    # patient 999 is not in the database: "0 prescriptions" is a failed premise, not a fact to find
    _ehrsql("how many drugs were prescribed to patient 999?", "how many prescriptions did patient 999 get?",
            "select count(*) from prescriptions where prescriptions.subject_id = 999", ["0"],
            "premise_not_in_database", "m7"),
    # "this year": EHRSQL's clock (2105-12-31), which neither the data nor the question state
    _ehrsql("how many admissions this year?", "count the number of patients who were admitted this year.",
            "select count(distinct admissions.subject_id) from admissions where datetime(admissions.admittime, "
            "'start of year') = datetime(current_time, 'start of year', '-0 year')", ["0"], "relative_time", "m8"),
    # an aggregate over no row is NULL: the data hold no answer
    _ehrsql("what route did patient 501 get heparin-kg by?", "what was the last route of heparin-kg for patient 501?",
            "select max(prescriptions.route) from prescriptions where prescriptions.subject_id = 501 and "
            "prescriptions.drug = 'heparin-kg'", ["None"], "imported", "m9"),
]
MIMIC_TRAIN = [
    _ehrsql("when was patient 502 first admitted?", "when was patient 502 first admitted to the hospital?",
            "select min(admissions.admittime) from admissions where admissions.subject_id = 502",
            ["2105-05-01 08:30:00"], "imported", "m6"),
]
TREQS_TEST = [
    {"db_id": "mimicsql_data", "question": "how many patients are asian?",
     "query": 'SELECT COUNT ( DISTINCT DEMOGRAPHIC."SUBJECT_ID" ) FROM DEMOGRAPHIC WHERE DEMOGRAPHIC."ETHNICITY" = "ASIAN"',
     "is_impossible": False, "split": "test", "id": "t1", "answer": ["1"], "_expect": "sql_failed"},
]
EICU_VALID = [
    {"db_id": "eicu", "question": "what is the age of patient 002-1?", "template": "what is the age of patient 002-1?",
     "query": "select patient.age from patient where patient.uniquepid = '002-1'", "value": {}, "is_impossible": False,
     "split": "valid", "id": "e1", "answer": ["67"], "_expect": "no_eicu_dataset"},
]

# ---------------------------------------------------------------- EHRCon


def _ehrcon(hadm: str, entity: str, n: int, has_error: bool, expect: str) -> dict[str, Any]:
    return {"Hospital admission": hadm, "Medical entity": entity, "Number of inconsistencies": n,
            "Has error": has_error, "split": "test", "_expect": expect}


EHRCON_TEST = [
    _ehrcon("100001.0", "zyloprim-kg", 1, True, "imported"),
    _ehrcon("100001.0", "temperature", 0, False, "imported"),
    _ehrcon("100002.0", "heparin-kg", 0, False, "no_clinical_notes"),
    _ehrcon("199999.0", "sodium", 0, False, "admission_not_in_database"),
    _ehrcon("100001.0", "heart rate", 2, False, "inconsistent_label"),
    _ehrcon("100003.0", "lasix", 0, False, "conflicting_duplicates"),
    _ehrcon("100003.0", "lasix", 1, True, "conflicting_duplicates"),
]
EHRCON_NOTES = [
    "ROW_ID,SUBJECT_ID,HADM_ID,CHARTDATE,CHARTTIME,STORETIME,CATEGORY,DESCRIPTION,CGID,ISERROR,TEXT,ADMITTIME",
    '11,501,100001,2105-02-04,,,Discharge summary,Report,,,"Started zyloprim-kg IV on day 2. Afebrile.",'
    "2105-02-03 10:00:00",
    '12,502,100003,2106-01-19,,,Discharge summary,Report,,,"Given lasix 40 mg.",2106-01-11 22:15:00',
    '13,599,199999,2106-03-01,,,Discharge summary,Report,,,"Sodium 131.",2106-02-27 10:00:00',
]


# ---------------------------------------------------------------- writing


def _write_jsonl(path: Path, records: list[dict[str, Any]], extra_lines: tuple[str, ...] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({k: v for k, v in r.items() if k != "_expect"}) for r in records]
    path.write_text("\n".join(lines + list(extra_lines)) + "\n")


def write_data(root: Path) -> Path:
    """Write the MedAgentGym-format folder; return it."""
    _write_jsonl(root / "medcalcbench" / "test_tasks.jsonl", MEDCALC_TEST)
    _write_jsonl(root / "medcalcbench" / "train_tasks.jsonl", MEDCALC_TRAIN)
    _write_jsonl(root / "medcalcbench" / "calculation_method.jsonl", CALCULATION_METHODS)
    _write_jsonl(root / "npowerai" / "test_tasks.jsonl", NPOWER_TEST, extra_lines=("{not json",))
    _write_jsonl(root / "npowerai" / "train_tasks.jsonl", NPOWER_TRAIN)
    _write_jsonl(root / "biocoder" / "test_tasks.jsonl", BIOCODER_TEST)
    _write_jsonl(root / "mimic_iii" / "valid_tasks.jsonl", MIMIC_VALID)
    _write_jsonl(root / "mimic_iii" / "train_tasks.jsonl", MIMIC_TRAIN)
    _write_jsonl(root / "treqs" / "test_tasks.jsonl", TREQS_TEST)
    _write_jsonl(root / "eicu" / "valid_tasks.jsonl", EICU_VALID)
    _write_jsonl(root / "ehrcon" / "test_tasks.jsonl", EHRCON_TEST)
    (root / "ehrcon" / "clinical_notes.csv").write_text("\n".join(EHRCON_NOTES) + "\n")
    _write_jsonl(root / "biodsbench" / "test_tasks.jsonl", [{"question": "made up", "_expect": "unsupported"}])
    # EHRSHOT keeps its tasks in task.jsonl, and a partial download can leave an empty folder: both get a line
    _write_jsonl(root / "ehrshot" / "task.jsonl", [{"task": "made up", "_expect": "unsupported"}])
    (root / "ehr_seqsql").mkdir(parents=True, exist_ok=True)
    return root


def write_mimic_csv(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for table, lines in MIMIC_CSV.items():
        (root / f"{table}.csv").write_text("\n".join(lines) + "\n")
    return root


EXPECTED: dict[str, list[str]] = {
    "medcalcbench": [r["_expect"] for r in MEDCALC_TRAIN + MEDCALC_TEST],
    "npowerai": [r["_expect"] for r in NPOWER_TRAIN + NPOWER_TEST] + ["malformed_record"],
    "biocoder": [r["_expect"] for r in BIOCODER_TEST],
    "mimic_iii": [r["_expect"] for r in MIMIC_TRAIN + MIMIC_VALID],
    "treqs": [r["_expect"] for r in TREQS_TEST],
    "eicu": [r["_expect"] for r in EICU_VALID],
    "ehrcon": [r["_expect"] for r in EHRCON_TEST],
}
"""Per data set, in file order (train, test, valid): ``imported`` or the reason code of each record."""
