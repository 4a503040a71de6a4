"""The ``bioinfo`` task family: sequence analysis on deterministic synthetic DNA and protein sequences.

Host side only. In the style of BioCoder / Rosalind. Every instance draws its sequences from the
``random.Random`` it is given (the same seed gives the same sequences), puts them in the kernel as
variables (and in the prompt), and computes the ground truth with Biopython or a plain-Python
implementation of the stated definition. Two kinds of category:

- *answer* categories: the agent computes a value and calls ``submit(value)``;
- *code-writing* categories (``*_function``): the agent must define a named function; the
  ``function`` verifier calls it on hidden inputs after the episode and the host compares its
  outputs with the expected outputs. The hidden inputs appear only in the verifier cell.

Draws whose answer would be ambiguous (ties for "the most frequent" or "the longest") are rejected.
"""

from __future__ import annotations

import contextlib
import random
import re
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from kernelgym.grading import Grader, passing_dummies
from kernelgym.tasks import Category, Draft

GENERATOR_VERSION = "2"  # 2: kmer_count and codon_count balanced (issue 17)

DNA = "ACGT"
AMINO = "ACDEFGHIKLMNPQRSTVWY"
# approximate UniProt amino-acid frequencies (percent), so proteins look like proteins
AMINO_WEIGHTS = (8.3, 1.4, 5.5, 6.8, 3.9, 7.1, 2.3, 5.9, 5.8, 9.7, 2.4, 4.1, 4.7, 3.9, 5.5, 6.6, 5.3, 6.9, 1.1, 2.9)
COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
STOPS = ("TAA", "TAG", "TGA")

EXACT = Grader(rule="exact")
EXACT_CASE = Grader(rule="exact", case_sensitive=True)
COUNT = Grader(rule="numeric", abs_tol=0.0)
POSITIONS = Grader(rule="list")
SET = Grader(rule="set")
FRACTION = Grader(rule="numeric", abs_tol=1e-4)
SCORE = Grader(rule="numeric", abs_tol=1e-6)
FUNCTION = Grader(rule="list", abs_tol=1e-6, case_sensitive=True)

DONE = (
    "Define the function in a code cell (imports inside it or before it). When it is ready, call "
    "submit('done'). After you finish, the function is called on hidden test inputs and its return "
    "values are compared with the expected ones; it must not print or rely on variables you define "
    "elsewhere, and each call must finish within 5 seconds."
)


# ---------------------------------------------------------------- context and helpers


@contextlib.contextmanager
def open_context() -> Iterator[None]:
    """Nothing to open: the sequences are synthetic."""
    yield None


def _cells(*cells: str) -> list[str]:
    return [textwrap.dedent(c).strip() for c in cells]


@cache
def _dna_table(at: int) -> bytes:
    """256 bytes -> letters: ``at`` each of A and T, ``128 - at`` each of C and G."""
    return b"A" * at + b"C" * (128 - at) + b"G" * (128 - at) + b"T" * at


@cache
def _protein_table() -> bytes:
    counts = [round(w / sum(AMINO_WEIGHTS) * 256) for w in AMINO_WEIGHTS]
    counts[AMINO.index("L")] += 256 - sum(counts)
    return b"".join(a.encode() * c for a, c in zip(AMINO, counts))


def dna(rng: random.Random, n: int, gc: float | None = None) -> str:
    """A random DNA sequence with GC probability ``gc`` (in steps of 1/128), from ``rng`` only."""
    gc = rng.uniform(0.3, 0.7) if gc is None else gc
    return rng.randbytes(n).translate(_dna_table(round(128 * (1 - gc)))).decode()


def protein(rng: random.Random, n: int) -> str:
    """A random protein with roughly natural amino-acid frequencies."""
    return rng.randbytes(n).translate(_protein_table()).decode()


def revcomp(s: str) -> str:
    return s.translate(COMPLEMENT)[::-1]


def plant(rng: random.Random, seq: str, motif: str, times: int) -> str:
    """Write ``motif`` into ``seq`` at ``times`` random places (later ones may overwrite earlier)."""
    s = list(seq)
    for _ in range(times):
        i = rng.randrange(0, len(s) - len(motif) + 1)
        s[i : i + len(motif)] = motif
    return "".join(s)


def wrap(seq: str, width: int = 80) -> str:
    return "\n".join("    " + seq[i : i + width] for i in range(0, len(seq), width))


def show(name: str, seq: str) -> str:
    return f"`{name}` ({len(seq)} letters):\n\n{wrap(seq)}\n"


@cache
def _codon_table(table: int) -> Any:
    from Bio.Data import CodonTable

    return CodonTable.unambiguous_dna_by_id[table]


@cache
def _codon_map(table: int) -> dict[str, str]:
    t = _codon_table(table)
    return {**t.forward_table, **{c: "*" for c in t.stop_codons}}


@cache
def _dicodon_map(table: int) -> dict[str, str]:
    """Every pair of codons -> its two amino acids (translating six letters per lookup)."""
    m = _codon_map(table)
    return {a + b: m[a] + m[b] for a in m for b in m}


_SIX = re.compile("......", re.DOTALL)


def translate(seq: str, table: int = 1) -> str:
    """Every complete codon translated, stops as '*'."""
    n = len(seq) - len(seq) % 6
    out = "".join(map(_dicodon_map(table).__getitem__, _SIX.findall(seq, 0, n)))
    return out + _codon_map(table)[seq[n : n + 3]] if len(seq) - n >= 3 else out


def orf_proteins(seq: str) -> list[str]:
    """Proteins of every ORF: each ATG to its first in-frame stop, both strands (no stop: no ORF)."""
    out = []
    for s in (seq, revcomp(seq)):
        for frame in range(3):
            # every segment that a stop closes (not the last one) yields one ORF per ATG in it
            for seg in translate(s[frame:]).split("*")[:-1]:
                i = seg.find("M")
                while i != -1:
                    out.append(seg[i:])
                    i = seg.find("M", i + 1)
    return out


def count_overlapping(seq: str, motif: str) -> int:
    return sum(1 for i in range(len(seq) - len(motif) + 1) if seq.startswith(motif, i))


def positions(seq: str, motif: str) -> list[int]:
    return [i + 1 for i in range(len(seq) - len(motif) + 1) if seq.startswith(motif, i)]


def kmer_counts(seq: str, k: int) -> dict[str, int]:
    return dict(Counter(seq[i : i + k] for i in range(len(seq) - k + 1)))


@cache
def _aligner(mode: str, match: float, mismatch: float, open_gap: float, extend_gap: float) -> Any:
    from Bio import Align

    return Align.PairwiseAligner(mode=mode, match_score=match, mismatch_score=mismatch,
                                 open_gap_score=open_gap, extend_gap_score=extend_gap)


def nw_score(a: str, b: str, match: float, mismatch: float, gap: float) -> float:
    """Global alignment score with a linear gap penalty (Needleman-Wunsch; Biopython's aligner in C)."""
    if not a or not b:
        return gap * (len(a) + len(b))
    return float(_aligner("global", match, mismatch, gap, gap).score(a, b))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: minus the best global score with match 0, mismatch -1, gap -1."""
    return int(round(-nw_score(a, b, 0, -1, -1)))


def _edit_distance_dp(a: str, b: str) -> int:
    """The textbook dynamic programme (used by the tests to cross-check :func:`edit_distance`)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@cache
def _others(alphabet: str, c: str) -> tuple[str, ...]:
    """The letters of ``alphabet`` other than ``c``."""
    return tuple(x for x in alphabet if x != c)


def mutate(rng: random.Random, seq: str, rate: float) -> str:
    return "".join(rng.choice(_others(DNA, c)) if rng.random() < rate else c for c in seq)


def indel_mutate(rng: random.Random, seq: str, rate: float, alphabet: str) -> str:
    out = []
    for c in seq:
        r = rng.random()
        if r < rate / 3:
            continue  # deletion
        if r < 2 * rate / 3:
            out.append(rng.choice(alphabet))  # insertion before c
        elif r < rate:
            c = rng.choice(_others(alphabet, c))
        out.append(c)
    return "".join(out) or alphabet[0]


def coding_sequence(rng: random.Random, codons: int, table: int = 1) -> str:
    """ATG + ``codons`` random sense codons of ``table`` + a stop codon of that table."""
    sense, stops = _sense_and_stops(table)
    body = "".join([sense[b % len(sense)] for b in rng.randbytes(codons)])
    return "ATG" + body + rng.choice(stops)


@cache
def _sense_and_stops(table: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    t = _codon_table(table)
    return tuple(sorted(t.forward_table)), tuple(sorted(t.stop_codons))


def _retry(fn: Callable[[random.Random], Draft | None], tries: int = 20) -> Callable[[Any, random.Random], Draft | None]:
    def generate(ctx: Any, rng: random.Random) -> Draft | None:
        for _ in range(tries):
            draft = fn(rng)
            if draft is not None:
                return draft
        return None

    return generate


# ---------------------------------------------------------------- answer categories


def gen_gc_content(rng: random.Random) -> Draft:
    seq = dna(rng, rng.randint(60, 600))
    from Bio.SeqUtils import gc_fraction

    return Draft(
        question=f"What is the GC content (a fraction between 0 and 1) of the DNA sequence {show('seq', seq)}",
        inputs={"seq": seq}, answer=round(gc_fraction(seq), 6),
        reference=_cells("from Bio.SeqUtils import gc_fraction\n\nsubmit(round(gc_fraction(seq), 6))"),
    )


def gen_reverse_complement(rng: random.Random) -> Draft:
    seq = dna(rng, rng.randint(30, 300))
    from Bio.Seq import Seq

    return Draft(
        question=f"Give the reverse complement (5' to 3') of the DNA sequence {show('seq', seq)}",
        inputs={"seq": seq}, answer=str(Seq(seq).reverse_complement()),
        reference=_cells("from Bio.Seq import Seq\n\nsubmit(str(Seq(seq).reverse_complement()))"),
    )


def gen_mrna_from_template(rng: random.Random) -> Draft:
    seq = dna(rng, rng.randint(30, 240))
    from Bio.Seq import Seq

    return Draft(
        question=(
            f"The DNA sequence below is the template (antisense) strand of a gene, written 5' to 3'. "
            f"Give the mRNA transcribed from it, written 5' to 3' (with U instead of T). {show('template', seq)}"
        ),
        inputs={"template": seq}, answer=str(Seq(seq).reverse_complement_rna()),
        reference=_cells(
            """
            from Bio.Seq import Seq

            mrna = Seq(template).reverse_complement().transcribe()
            submit(str(mrna))
            """
        ),
    )


TABLES = {1: "the standard genetic code (NCBI table 1)", 2: "the vertebrate mitochondrial code (NCBI table 2)",
          4: "the mold, protozoan and coelenterate mitochondrial code (NCBI table 4)",
          11: "the bacterial, archaeal and plant plastid code (NCBI table 11)"}


def gen_translation(rng: random.Random) -> Draft:
    table = rng.choice((1, 1, 2, 4, 11))
    seq = coding_sequence(rng, rng.randint(20, 150), table)
    from Bio.Seq import Seq

    answer = str(Seq(seq).translate(table=table, to_stop=True))
    return Draft(
        question=(
            f"Translate the coding sequence below with {TABLES[table]}, from its first codon up to but not "
            f"including the stop codon. {show('cds', seq)}"
        ),
        inputs={"cds": seq}, answer=answer,
        reference=_cells(f"from Bio.Seq import Seq\n\nsubmit(str(Seq(cds).translate(table={table}, to_stop=True)))"),
    )


_ORF_CODE = """
from Bio.Seq import Seq

def orf_proteins(s):
    # every ATG to its first in-frame stop, on both strands; ORFs without a stop are not counted
    out = []
    for strand in (Seq(s), Seq(s).reverse_complement()):
        for frame in range(3):
            sub = strand[frame:]
            prot = str(sub[: len(sub) // 3 * 3].translate())
            for i, aa in enumerate(prot):
                if aa == "M":
                    j = prot.find("*", i)
                    if j != -1:
                        out.append(prot[i:j])
    return out

proteins = orf_proteins(seq)
print(len(proteins), len(set(proteins)))
"""


def _orf_seq(rng: random.Random, length: tuple[int, int] = (240, 720), codons: tuple[int, int] = (40, 160)) -> str:
    seq = dna(rng, rng.randint(*length), gc=rng.uniform(0.4, 0.6))
    cds = coding_sequence(rng, rng.randint(*codons))
    if rng.random() < 0.5:
        cds = revcomp(cds)
    i = rng.randrange(0, max(1, len(seq) - len(cds)))
    return seq[:i] + cds + seq[i + len(cds) :]


def gen_longest_orf(rng: random.Random) -> Draft | None:
    seq = _orf_seq(rng)
    prots = sorted(set(orf_proteins(seq)), key=len, reverse=True)
    if not prots or (len(prots) > 1 and len(prots[0]) == len(prots[1])):
        return None
    return Draft(
        question=(
            "An open reading frame (ORF) starts at an ATG and ends at the first in-frame stop codon (TAA, TAG "
            "or TGA); an ATG with no in-frame stop downstream does not start an ORF. Considering both strands "
            f"of the DNA sequence below, give the protein (one-letter codes, standard genetic code, without "
            f"the stop) encoded by the longest ORF. {show('seq', seq)}"
        ),
        inputs={"seq": seq}, answer=prots[0],
        reference=_cells(_ORF_CODE, "submit(max(set(proteins), key=len))"),
    )


def gen_orf_count(rng: random.Random) -> Draft:
    seq = _orf_seq(rng)
    n = len(set(orf_proteins(seq)))
    return Draft(
        question=(
            "An open reading frame (ORF) starts at an ATG and ends at the first in-frame stop codon (TAA, TAG "
            "or TGA); every ATG (including ATGs inside another ORF) starts its own ORF, and an ATG with no "
            "in-frame stop downstream starts none. Considering both strands of the DNA sequence below and "
            f"the standard genetic code, how many distinct protein strings do its ORFs encode? {show('seq', seq)}"
        ),
        inputs={"seq": seq}, answer=n,
        reference=_cells(_ORF_CODE, "submit(len(set(proteins)))"),
    )


def gen_kmer_count(rng: random.Random) -> Draft:
    seq = dna(rng, rng.randint(100, 800))
    k = rng.randint(2, 6)
    i = rng.randrange(0, len(seq) - k)
    kmer = seq[i : i + k]
    return Draft(
        question=(
            f"How many times does the {k}-mer {kmer} occur in the DNA sequence below (overlapping "
            f"occurrences count, forward strand only)? {show('seq', seq)}"
        ),
        inputs={"seq": seq, "kmer": kmer}, answer=count_overlapping(seq, kmer),
        reference=_cells("submit(sum(seq.startswith(kmer, i) for i in range(len(seq) - len(kmer) + 1)))"),
    )


def gen_most_frequent_kmers(rng: random.Random) -> Draft:
    seq = dna(rng, rng.randint(80, 500))
    k = rng.randint(3, 7)
    seq = plant(rng, seq, dna(rng, k), rng.randint(0, 4))
    counts = kmer_counts(seq, k)
    top = max(counts.values())
    best = sorted(x for x, c in counts.items() if c == top)
    return Draft(
        question=(
            f"Which {k}-mer(s) occur most often in the DNA sequence below (overlapping occurrences, forward "
            f"strand)? If several are tied, give all of them. {show('seq', seq)}"
        ),
        inputs={"seq": seq, "k": k}, answer=best,
        reference=_cells(
            """
            from collections import Counter

            counts = Counter(seq[i:i + k] for i in range(len(seq) - k + 1))
            top = max(counts.values())
            submit(sorted(x for x, c in counts.items() if c == top))
            """
        ),
    )


def gen_motif_positions(rng: random.Random) -> Draft | None:
    motif = dna(rng, rng.randint(3, 9))
    seq = plant(rng, dna(rng, rng.randint(80, 500)), motif, rng.randint(1, 5))
    pos = positions(seq, motif)
    if not pos:
        return None
    return Draft(
        question=(
            f"Give every 1-based start position of the motif {motif} in the DNA sequence below, in increasing "
            f"order (overlapping occurrences count, forward strand only). {show('seq', seq)}"
        ),
        inputs={"seq": seq, "motif": motif}, answer=pos,
        reference=_cells("submit([i + 1 for i in range(len(seq) - len(motif) + 1) if seq.startswith(motif, i)])"),
    )


IUPAC = {"R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC", "N": "ACGT"}


def gen_iupac_motif_positions(rng: random.Random) -> Draft | None:
    from Bio.SeqUtils import nt_search

    n = rng.randint(5, 8)
    motif = "".join(rng.choice(DNA) if rng.random() < 0.65 else rng.choice("RYSWKMN") for _ in range(n))
    if all(c in DNA for c in motif):
        return None
    concrete = "".join(c if c in DNA else rng.choice(IUPAC[c]) for c in motif)
    seq = plant(rng, dna(rng, rng.randint(100, 500)), concrete, rng.randint(1, 4))
    pos = [p + 1 for p in nt_search(seq, motif)[1:]]
    if not pos:
        return None
    return Draft(
        question=(
            f"The motif {motif} is written in IUPAC nucleotide codes (R = A/G, Y = C/T, S = C/G, W = A/T, "
            f"K = G/T, M = A/C, N = any). Give every 1-based start position at which the motif matches the "
            f"DNA sequence below, in increasing order (forward strand only, overlapping matches count). "
            f"{show('seq', seq)}"
        ),
        inputs={"seq": seq, "motif": motif}, answer=pos,
        reference=_cells(
            """
            from Bio.SeqUtils import nt_search

            submit([p + 1 for p in nt_search(seq, motif)[1:]])  # nt_search: [pattern, 0-based positions...]
            """
        ),
    )


def gen_codon_count(rng: random.Random) -> Draft | None:
    cds = coding_sequence(rng, rng.randint(60, 300))
    codons = [cds[i : i + 3] for i in range(0, len(cds), 3)]
    codon = rng.choice(codons[1:-1])
    return Draft(
        question=(
            f"How many times is the codon {codon} used in the reading frame of the coding sequence below "
            f"(codons read from the first nucleotide, in frame only)? {show('cds', cds)}"
        ),
        inputs={"cds": cds, "codon": codon}, answer=codons.count(codon),
        reference=_cells("submit([cds[i:i + 3] for i in range(0, len(cds) - 2, 3)].count(codon))"),
    )


AA_NAMES = {"L": "leucine", "S": "serine", "R": "arginine", "A": "alanine", "G": "glycine", "P": "proline",
            "T": "threonine", "V": "valine", "I": "isoleucine"}


def gen_preferred_codon(rng: random.Random) -> Draft | None:
    cds = coding_sequence(rng, rng.randint(100, 400))
    aa = rng.choice(sorted(AA_NAMES))
    codons = [cds[i : i + 3] for i in range(0, len(cds), 3)]
    code = _codon_map(1)
    used = Counter(c for c in codons if code[c] == aa)
    if not used:
        return None
    ranked = used.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return Draft(
        question=(
            f"In the coding sequence below (standard genetic code, read in frame from the first nucleotide), "
            f"which codon is used most often for {AA_NAMES[aa]} ({aa})? {show('cds', cds)}"
        ),
        inputs={"cds": cds, "amino_acid": aa}, answer=ranked[0][0],
        reference=_cells(
            """
            from collections import Counter
            from Bio.Seq import Seq

            codons = [cds[i:i + 3] for i in range(0, len(cds) - 2, 3)]
            usage = Counter(c for c in codons if str(Seq(c).translate()) == amino_acid)
            print(usage)
            submit(usage.most_common(1)[0][0])
            """
        ),
    )


def gen_hamming_distance(rng: random.Random) -> Draft:
    a = dna(rng, rng.randint(40, 400))
    b = mutate(rng, a, rng.uniform(0.02, 0.3))
    return Draft(
        question=f"What is the Hamming distance between the two DNA sequences below? {show('seq_a', a)}{show('seq_b', b)}",
        inputs={"seq_a": a, "seq_b": b}, answer=sum(x != y for x, y in zip(a, b)),
        reference=_cells("submit(sum(x != y for x, y in zip(seq_a, seq_b)))"),
    )


def gen_transition_transversion(rng: random.Random) -> Draft | None:
    a = dna(rng, rng.randint(100, 500))
    b = list(a)
    for i in range(len(b)):
        r = rng.random()
        if r < 0.06:
            b[i] = {"A": "G", "G": "A", "C": "T", "T": "C"}[b[i]]
        elif r < 0.06 + rng.uniform(0.01, 0.05):
            b[i] = rng.choice({"A": "CT", "G": "CT", "C": "AG", "T": "AG"}[b[i]])
    b = "".join(b)
    purines = set("AG")
    ts = sum(x != y and ((x in purines) == (y in purines)) for x, y in zip(a, b))
    tv = sum(x != y and ((x in purines) != (y in purines)) for x, y in zip(a, b))
    if tv == 0:
        return None
    return Draft(
        question=(
            f"For the two aligned DNA sequences below, what is the transition/transversion ratio (number of "
            f"transitions divided by number of transversions)? {show('seq_a', a)}{show('seq_b', b)}"
        ),
        inputs={"seq_a": a, "seq_b": b}, answer=round(ts / tv, 6),
        reference=_cells(
            """
            purines = set("AG")
            ts = sum(x != y and ((x in purines) == (y in purines)) for x, y in zip(seq_a, seq_b))
            tv = sum(x != y and ((x in purines) != (y in purines)) for x, y in zip(seq_a, seq_b))
            submit(round(ts / tv, 6))
            """
        ),
    )


def gen_global_alignment_score(rng: random.Random) -> Draft:
    a = dna(rng, rng.randint(20, 120))
    b = indel_mutate(rng, a, rng.uniform(0.05, 0.3), DNA)
    match, mismatch = rng.choice((1, 2, 5)), -rng.choice((1, 2, 3, 4))
    open_, extend = -rng.choice((2, 3, 5, 8, 10)), -rng.choice((0.5, 1, 2))
    aligner = _aligner("global", match, mismatch, open_, extend)
    return Draft(
        question=(
            f"Compute the optimal global alignment score of the two DNA sequences below with Biopython's "
            f"PairwiseAligner: match {match}, mismatch {mismatch}, gap open {open_}, gap extend {extend:g} "
            f"(affine gaps, end gaps penalised like internal gaps). {show('seq_a', a)}{show('seq_b', b)}"
        ),
        inputs={"seq_a": a, "seq_b": b}, answer=float(aligner.score(a, b)),
        reference=_cells(
            f"""
            from Bio import Align

            aligner = Align.PairwiseAligner(mode="global", match_score={match}, mismatch_score={mismatch},
                                            open_gap_score={open_}, extend_gap_score={extend})
            submit(float(aligner.score(seq_a, seq_b)))
            """
        ),
    )


@cache
def _matrix_aligner(matrix: str, open_gap: float, extend_gap: float) -> Any:
    from Bio import Align
    from Bio.Align import substitution_matrices

    return Align.PairwiseAligner(mode="local", substitution_matrix=substitution_matrices.load(matrix),
                                 open_gap_score=open_gap, extend_gap_score=extend_gap)


def gen_local_protein_alignment_score(rng: random.Random) -> Draft:
    core = protein(rng, rng.randint(30, 120))
    a = protein(rng, rng.randint(0, 30)) + core + protein(rng, rng.randint(0, 30))
    b = protein(rng, rng.randint(0, 30)) + indel_mutate(rng, core, rng.uniform(0.05, 0.4), AMINO) + protein(rng, rng.randint(0, 30))
    matrix = rng.choice(("BLOSUM62", "BLOSUM62", "BLOSUM45", "PAM250"))
    open_, extend = rng.choice(((-10, -0.5), (-11, -1), (-12, -2), (-8, -1)))
    aligner = _matrix_aligner(matrix, open_, extend)
    return Draft(
        question=(
            f"Compute the optimal local (Smith-Waterman) alignment score of the two protein sequences below "
            f"with Biopython's PairwiseAligner, the {matrix} substitution matrix, gap open {open_} and gap "
            f"extend {extend:g}. {show('prot_a', a)}{show('prot_b', b)}"
        ),
        inputs={"prot_a": a, "prot_b": b}, answer=float(aligner.score(a, b)),
        reference=_cells(
            f"""
            from Bio import Align
            from Bio.Align import substitution_matrices

            aligner = Align.PairwiseAligner(mode="local", substitution_matrix=substitution_matrices.load({matrix!r}),
                                            open_gap_score={open_}, extend_gap_score={extend})
            submit(float(aligner.score(prot_a, prot_b)))
            """
        ),
    )


def gen_tm_wallace(rng: random.Random) -> Draft:
    primer = dna(rng, rng.randint(14, 24))
    from Bio.SeqUtils import MeltingTemp as mt

    return Draft(
        question=(
            f"What is the melting temperature (degrees C) of the primer {primer} by the Wallace rule "
            f"(2 degrees per A/T, 4 degrees per G/C)?"
        ),
        inputs={"primer": primer}, answer=float(mt.Tm_Wallace(primer)),
        reference=_cells("from Bio.SeqUtils import MeltingTemp as mt\n\nsubmit(float(mt.Tm_Wallace(primer)))"),
    )


def gen_tm_nearest_neighbor(rng: random.Random) -> Draft:
    primer = dna(rng, rng.randint(16, 30), gc=rng.uniform(0.35, 0.65))
    na = rng.choice((50, 50, 100, 150))
    dnac = rng.choice((25, 50, 250))
    from Bio.SeqUtils import MeltingTemp as mt

    tm = mt.Tm_NN(primer, Na=na, dnac1=dnac, dnac2=dnac)
    return Draft(
        question=(
            f"What is the nearest-neighbour melting temperature (degrees C) of the primer {primer}, computed "
            f"with Biopython's MeltingTemp.Tm_NN (default nearest-neighbour table DNA_NN3 and default salt "
            f"correction) at Na+ = {na} mM and dnac1 = dnac2 = {dnac} nM?"
        ),
        inputs={"primer": primer}, answer=round(float(tm), 6),
        reference=_cells(
            f"from Bio.SeqUtils import MeltingTemp as mt\n\nsubmit(round(float(mt.Tm_NN(primer, Na={na}, dnac1={dnac}, dnac2={dnac})), 4))"
        ),
    )


ENZYMES = ("EcoRI", "BamHI", "HindIII", "PstI", "XhoI", "SmaI", "KpnI", "SacI", "NcoI", "NdeI", "XbaI", "SalI")


@cache
def _enzyme(name: str) -> Any:
    from Bio import Restriction

    return getattr(Restriction, name)


def gen_restriction_fragments(rng: random.Random) -> Draft | None:
    name = rng.choice(ENZYMES)
    enz = _enzyme(name)
    seq = dna(rng, rng.randint(200, 900))
    seq = plant(rng, seq, enz.site, rng.randint(1, 3))
    from Bio.Seq import Seq

    frags = [len(f) for f in enz.catalyse(Seq(seq), linear=True)]
    if len(frags) < 2:
        return None
    return Draft(
        question=(
            f"The linear DNA molecule below is digested to completion with {name} (site {enz.elucidate()}, "
            f"cut positions on the top strand). Give the lengths of the resulting fragments from 5' to 3' "
            f"(top strand). {show('seq', seq)}"
        ),
        inputs={"seq": seq}, answer=frags,
        reference=_cells(
            f"""
            from Bio.Restriction import {name}
            from Bio.Seq import Seq

            fragments = {name}.catalyse(Seq(seq), linear=True)
            submit([len(f) for f in fragments])
            """
        ),
    )


def gen_enzymes_that_cut(rng: random.Random) -> Draft | None:
    panel = sorted(rng.sample(ENZYMES, 6))
    seq = dna(rng, rng.randint(300, 1000))
    for name in rng.sample(panel, rng.randint(0, 4)):
        seq = plant(rng, seq, _enzyme(name).site, 1)
    from Bio.Seq import Seq

    cutters = sorted(n for n in panel if _enzyme(n).search(Seq(seq), linear=True))
    return Draft(
        question=(
            f"Which of the restriction enzymes {', '.join(panel)} cut the linear DNA molecule below at least "
            f"once? Give their names (an empty list if none does). {show('seq', seq)}"
        ),
        inputs={"seq": seq, "enzymes": panel}, answer=cutters,
        reference=_cells(
            """
            from Bio import Restriction
            from Bio.Seq import Seq

            submit(sorted(n for n in enzymes if getattr(Restriction, n).search(Seq(seq), linear=True)))
            """
        ),
    )


def _prot_draft(rng: random.Random, what: str, method: str, rounding: int) -> Draft:
    from Bio.SeqUtils.ProtParam import ProteinAnalysis

    prot = "M" + protein(rng, rng.randint(40, 400))
    value = getattr(ProteinAnalysis(prot), method)()
    return Draft(
        question=f"What is the {what} of the protein below? {show('prot', prot)}",
        inputs={"prot": prot}, answer=round(float(value), 6),
        reference=_cells(
            f"from Bio.SeqUtils.ProtParam import ProteinAnalysis\n\nsubmit(round(ProteinAnalysis(prot).{method}(), {rounding}))"
        ),
    )


def gen_protein_molecular_weight(rng: random.Random) -> Draft:
    return _prot_draft(rng, "average molecular weight in daltons (as computed by Biopython's "
                       "ProteinAnalysis.molecular_weight, average isotopic masses)", "molecular_weight", 4)


def gen_isoelectric_point(rng: random.Random) -> Draft:
    return _prot_draft(rng, "isoelectric point (as computed by Biopython's ProteinAnalysis.isoelectric_point)",
                       "isoelectric_point", 4)


def gen_gravy(rng: random.Random) -> Draft:
    return _prot_draft(rng, "grand average of hydropathy (GRAVY, Kyte-Doolittle scale)", "gravy", 6)


def reverse_palindromes(seq: str, lo: int = 4, hi: int = 12) -> list[list[int]]:
    # the reverse complement of seq[i:i + n] is rc[L - i - n:L - i], with rc the whole sequence's
    rc, L = revcomp(seq), len(seq)
    return [[i + 1, n] for i in range(L) for n in range(lo, min(hi, L - i) + 1)
            if seq[i : i + n] == rc[L - i - n : L - i]]


def gen_reverse_palindromes(rng: random.Random) -> Draft | None:
    seq = dna(rng, rng.randint(40, 150))
    for _ in range(rng.randint(1, 3)):
        half = dna(rng, rng.randint(2, 6))
        seq = plant(rng, seq, half + revcomp(half), 1)
    pal = reverse_palindromes(seq)
    if not pal:
        return None
    return Draft(
        question=(
            "A reverse palindrome is a DNA substring equal to its own reverse complement. Give the 1-based "
            "position and length of every reverse palindrome of length 4 to 12 in the sequence below, as a "
            "list of [position, length] pairs sorted by position, then by length. " + show("seq", seq)
        ),
        inputs={"seq": seq}, answer=pal,
        reference=_cells(
            """
            from Bio.Seq import Seq

            found = []
            for i in range(len(seq)):
                for n in range(4, 13):
                    sub = seq[i:i + n]
                    if len(sub) == n and sub == str(Seq(sub).reverse_complement()):
                        found.append([i + 1, n])
            submit(found)
            """
        ),
    )


def gen_consensus(rng: random.Random) -> Draft | None:
    base = dna(rng, rng.randint(15, 60))
    seqs = [mutate(rng, base, rng.uniform(0.1, 0.35)) for _ in range(rng.randint(5, 11))]
    cons = []
    for col in zip(*seqs):
        ranked = Counter(col).most_common()
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None
        cons.append(ranked[0][0])
    listing = "\n".join(f"    {s}" for s in seqs)
    return Draft(
        question=(
            f"The {len(seqs)} aligned DNA sequences below (also in the kernel as the list `seqs`) have equal "
            f"length. Give their consensus sequence (the most common nucleotide in each column).\n\n{listing}\n"
        ),
        inputs={"seqs": seqs}, answer="".join(cons),
        reference=_cells(
            """
            from collections import Counter

            submit("".join(Counter(col).most_common(1)[0][0] for col in zip(*seqs)))
            """
        ),
    )


def gen_edit_distance(rng: random.Random) -> Draft:
    a = protein(rng, rng.randint(20, 150))
    b = indel_mutate(rng, a, rng.uniform(0.05, 0.4), AMINO)
    return Draft(
        question=(
            f"What is the edit (Levenshtein) distance between the two protein sequences below (minimum number "
            f"of single-letter substitutions, insertions and deletions)? {show('prot_a', a)}{show('prot_b', b)}"
        ),
        inputs={"prot_a": a, "prot_b": b}, answer=edit_distance(a, b),
        reference=_cells(
            """
            from Bio import Align

            # edit distance = -(best global score) with match 0, mismatch -1, gap -1
            aligner = Align.PairwiseAligner(mode="global", match_score=0, mismatch_score=-1, gap_score=-1)
            submit(int(round(-aligner.score(prot_a, prot_b))))
            """
        ),
    )


def gen_splice_and_translate(rng: random.Random) -> Draft | None:
    cds = coding_sequence(rng, rng.randint(30, 90))
    cuts = sorted(rng.sample(range(3, len(cds) - 3), rng.randint(1, 3)))
    introns = []
    gene, prev = "", 0
    for c in cuts:
        intron = "GT" + dna(rng, rng.randint(10, 40)) + "AG"
        if any(intron in x for x in introns) or intron in cds:
            return None
        gene += cds[prev:c] + intron
        introns.append(intron)
        prev = c
    gene += cds[prev:]
    # removing each intron's first occurrence must give back the CDS
    check = gene
    for intron in introns:
        check = check.replace(intron, "", 1)
    if check != cds:
        return None
    shown = "\n".join(f"    {x}" for x in introns)
    return Draft(
        question=(
            f"The gene below (`gene`) contains the introns listed here (also in the kernel as the list "
            f"`introns`). Remove the introns (the first occurrence of each, in the order given) and translate "
            f"the spliced coding sequence with the standard genetic code up to but not including the stop "
            f"codon.\n\nIntrons:\n{shown}\n\n{show('gene', gene)}"
        ),
        inputs={"gene": gene, "introns": introns}, answer=translate(cds)[:-1],
        reference=_cells(
            """
            from Bio.Seq import Seq

            spliced = gene
            for intron in introns:
                spliced = spliced.replace(intron, "", 1)
            submit(str(Seq(spliced).translate(to_stop=True)))
            """
        ),
    )


def gen_nucleotide_counts(rng: random.Random) -> Draft:
    seq = dna(rng, rng.randint(50, 1000))
    return Draft(
        question=f"Count the nucleotides A, C, G and T in the DNA sequence below; answer [A, C, G, T]. {show('seq', seq)}",
        inputs={"seq": seq}, answer=[seq.count(x) for x in DNA],
        reference=_cells("submit([seq.count(x) for x in 'ACGT'])"),
    )


# ---------------------------------------------------------------- code-writing categories


def _fn_draft(
    rng: random.Random, name: str, signature: str, spec: str, example_args: list[Any],
    hidden: list[list[Any]], impl: Callable[..., Any], reference: str, more: Callable[[], list[Any]] | None = None,
) -> Draft | None:
    """A code-writing draft. If a function that solves nothing (:data:`kernelgym.grading.DUMMIES`:
    a constant, the first input handed back, raising) passes the hidden inputs, inputs from ``more``
    are added until none does; without ``more``, or after 20 more, the draw is rejected (None)."""
    example = impl(*example_args)
    args_src = ", ".join(repr(a) for a in example_args)
    question = (
        f"Write a Python function `{signature}`. {spec}\n\nExample: `{name}({args_src})` returns `{example!r}`.\n\n{DONE}"
    )
    hidden = list(hidden)
    answer = [impl(*args) for args in hidden]
    for added in range(21):
        if not passing_dummies(answer, hidden, FUNCTION):
            break
        if more is None or added == 20:
            return None
        hidden.append(more())
        answer.append(impl(*hidden[-1]))
    return Draft(
        question=question, answer=answer,
        reference=_cells(reference, "submit('done')"), verifier="function",
        verifier_args={"name": name, "inputs": hidden},
    )


def _gc_fn(seq: str) -> float:
    return round(sum(c in "GCgc" for c in seq) / len(seq), 10) if seq else 0.0


def gen_gc_content_function(rng: random.Random) -> Draft | None:
    def mixed(n: int) -> str:
        s = dna(rng, n)
        return s.lower() if rng.random() < 0.3 else s

    hidden = [[mixed(rng.randint(1, 300))] for _ in range(7)] + [[""], ["GGGG"]]
    rng.shuffle(hidden)
    return _fn_draft(
        rng, "gc_content", "gc_content(seq: str) -> float",
        "It returns the fraction (between 0 and 1, not a percentage) of the letters of the DNA sequence "
        "`seq` that are G or C, counting upper- and lower-case letters alike; for an empty sequence it "
        "returns 0.0.",
        [dna(rng, rng.randint(8, 16))], hidden, _gc_fn,
        """
        def gc_content(seq: str) -> float:
            if not seq:
                return 0.0
            return sum(c in "GCgc" for c in seq) / len(seq)
        """,
        more=lambda: [mixed(rng.randint(1, 300))],
    )


def gen_reverse_complement_function(rng: random.Random) -> Draft | None:
    def with_n(n: int) -> str:
        s = list(dna(rng, n))
        for _ in range(rng.randint(0, 3)):
            if s:
                s[rng.randrange(len(s))] = "N"
        return "".join(s)

    hidden = [[with_n(rng.randint(1, 200))] for _ in range(7)] + [[""], ["ACGTN"]]
    rng.shuffle(hidden)
    return _fn_draft(
        rng, "reverse_complement", "reverse_complement(seq: str) -> str",
        "It returns the reverse complement of the upper-case DNA sequence `seq`, whose letters are A, C, G, "
        "T and N (N stays N).",
        [dna(rng, rng.randint(6, 12))], hidden, revcomp,
        """
        def reverse_complement(seq: str) -> str:
            return seq.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]
        """,
        more=lambda: [with_n(rng.randint(1, 200))],
    )


def gen_translate_function(rng: random.Random) -> Draft | None:
    hidden = [[dna(rng, rng.randint(0, 240))] for _ in range(6)]
    hidden += [[coding_sequence(rng, rng.randint(5, 40))], ["AT"], [""]]
    rng.shuffle(hidden)
    return _fn_draft(
        rng, "translate_dna", "translate_dna(seq: str) -> str",
        "It translates the upper-case DNA sequence `seq` (letters A, C, G, T) with the standard genetic code, "
        "codon by codon from the first nucleotide, writing stop codons as '*' and continuing after them; "
        "an incomplete codon at the end is ignored.",
        [coding_sequence(rng, rng.randint(2, 5))], hidden, translate,
        """
        from Bio.Seq import Seq

        def translate_dna(seq: str) -> str:
            return str(Seq(seq[: len(seq) // 3 * 3]).translate())
        """,
        more=lambda: [dna(rng, rng.randint(3, 240))],
    )


def gen_kmer_counts_function(rng: random.Random) -> Draft | None:
    hidden = [[dna(rng, rng.randint(1, 150)), rng.randint(1, 6)] for _ in range(7)]
    hidden += [["ACG", 5], ["AAAAAA", 2]]
    rng.shuffle(hidden)
    return _fn_draft(
        rng, "kmer_counts", "kmer_counts(seq: str, k: int) -> dict[str, int]",
        "It returns a dict mapping every k-mer that occurs in `seq` (overlapping occurrences) to its number "
        "of occurrences; k-mers that do not occur are absent, and a sequence shorter than k gives {}.",
        [dna(rng, rng.randint(6, 10)), 2], hidden, kmer_counts,
        """
        from collections import Counter

        def kmer_counts(seq: str, k: int) -> dict:
            return dict(Counter(seq[i:i + k] for i in range(len(seq) - k + 1)))
        """,
        more=lambda: [dna(rng, rng.randint(1, 150)), rng.randint(1, 6)],
    )


def gen_find_motif_function(rng: random.Random) -> Draft | None:
    hidden = []
    for _ in range(7):
        motif = dna(rng, rng.randint(1, 5))
        hidden.append([plant(rng, dna(rng, rng.randint(20, 200)), motif, rng.randint(0, 4)), motif])
    hidden += [["AAAA", "AA"], ["ACGT", "TTTTT"]]
    rng.shuffle(hidden)
    motif = dna(rng, 2)
    return _fn_draft(
        rng, "find_motif", "find_motif(seq: str, motif: str) -> list[int]",
        "It returns the 1-based start positions of every occurrence of `motif` in `seq`, overlapping "
        "occurrences included, in increasing order (an empty list if there is none).",
        [plant(rng, dna(rng, 12), motif, 2), motif], hidden, positions,
        """
        def find_motif(seq: str, motif: str) -> list:
            return [i + 1 for i in range(len(seq) - len(motif) + 1) if seq[i:i + len(motif)] == motif]
        """,
        more=lambda: [plant(rng, dna(rng, rng.randint(20, 200)), motif, rng.randint(1, 4)), motif],
    )


def gen_edit_distance_function(rng: random.Random) -> Draft | None:
    hidden = []
    for _ in range(7):
        a = protein(rng, rng.randint(1, 60))
        hidden.append([a, indel_mutate(rng, a, rng.uniform(0, 0.5), AMINO)])
    hidden += [["", "ACD"], ["KITTEN", "SITTING"]]
    rng.shuffle(hidden)
    a = protein(rng, 6)
    return _fn_draft(
        rng, "edit_distance", "edit_distance(a: str, b: str) -> int",
        "It returns the Levenshtein distance between the strings `a` and `b`: the minimum number of "
        "single-character substitutions, insertions and deletions that turn `a` into `b`.",
        [a, indel_mutate(rng, a, 0.4, AMINO)], hidden, edit_distance,
        """
        def edit_distance(a: str, b: str) -> int:
            prev = list(range(len(b) + 1))
            for i, ca in enumerate(a, 1):
                cur = [i]
                for j, cb in enumerate(b, 1):
                    cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
                prev = cur
            return prev[-1]
        """,
        more=lambda: [a, indel_mutate(rng, a, rng.uniform(0.1, 0.5), AMINO)],
    )


def gen_global_alignment_function(rng: random.Random) -> Draft | None:
    hidden = []
    for _ in range(7):
        a = dna(rng, rng.randint(1, 60))
        hidden.append([a, indel_mutate(rng, a, rng.uniform(0, 0.4), DNA), rng.choice((1, 2)),
                       -rng.choice((1, 2, 3)), -rng.choice((1, 2, 3))])
    hidden += [["", "ACG", 1, -1, -2], ["GATTACA", "GCATGCT", 1, -1, -1]]
    rng.shuffle(hidden)
    a = dna(rng, 6)
    return _fn_draft(
        rng, "nw_score", "nw_score(a: str, b: str, match: int, mismatch: int, gap: int) -> int",
        "It returns the optimal global (Needleman-Wunsch) alignment score of the DNA sequences `a` and `b` "
        "with a linear gap penalty: each aligned pair scores `match` if the letters are equal and "
        "`mismatch` otherwise, and each gap position scores `gap` (mismatch and gap are negative; end gaps "
        "count like internal gaps).",
        [a, indel_mutate(rng, a, 0.3, DNA), 1, -1, -2], hidden,
        lambda *args: int(nw_score(*args)),
        """
        from Bio import Align

        def nw_score(a: str, b: str, match: int, mismatch: int, gap: int) -> int:
            if not a or not b:
                return gap * (len(a) + len(b))
            aligner = Align.PairwiseAligner(mode="global", match_score=match, mismatch_score=mismatch, gap_score=gap)
            return int(aligner.score(a, b))
        """,
        more=lambda: [a, indel_mutate(rng, a, rng.uniform(0, 0.4), DNA), 1, -1, -2],
    )


def _longest_orf_fn(seq: str) -> str:
    prots = orf_proteins(seq)
    return max(prots, key=len) if prots else ""


def gen_longest_orf_function(rng: random.Random) -> Draft | None:
    hidden = []
    longest: dict[str, str] = {}  # the expected outputs, computed with the ORFs already at hand
    while len(hidden) < 7:
        s = _orf_seq(rng, (90, 400), (20, 90))
        prots = orf_proteins(s)
        lens = sorted((len(p) for p in set(prots)), reverse=True)
        if not lens or (len(lens) > 1 and lens[0] == lens[1]):
            continue
        hidden.append([s])
        longest[s] = max(prots, key=len)
    hidden += [["CCCCCC"], ["ATGTAA"]]
    rng.shuffle(hidden)
    example = "CC" + coding_sequence(rng, 3) + "GG"
    return _fn_draft(
        rng, "longest_orf", "longest_orf(seq: str) -> str",
        "An open reading frame (ORF) starts at an ATG and ends at the first in-frame stop codon (TAA, TAG or "
        "TGA); an ATG with no in-frame stop downstream starts no ORF. The function returns the protein "
        "(one-letter codes, standard genetic code, without the stop) of the longest ORF on either strand of "
        "the upper-case DNA sequence `seq`, or '' if there is no ORF. (Test inputs have a unique longest ORF.)",
        [example], hidden, lambda seq: longest[seq] if seq in longest else _longest_orf_fn(seq),
        """
        from Bio.Seq import Seq

        def longest_orf(seq: str) -> str:
            best = ""
            for strand in (Seq(seq), Seq(seq).reverse_complement()):
                for frame in range(3):
                    sub = strand[frame:]
                    prot = str(sub[: len(sub) // 3 * 3].translate())
                    for i, aa in enumerate(prot):
                        if aa == "M":
                            j = prot.find("*", i)
                            if j != -1 and j - i > len(best):
                                best = prot[i:j]
            return best
        """,
    )


# ---------------------------------------------------------------- categories


def _cat(name: str, description: str, grader: Grader, answer_format: str, fn: Callable[[random.Random], Draft | None]) -> Category:
    return Category(name=name, description=description, grader=grader, answer_format=answer_format, generate=_retry(fn))


_FN_FORMAT = "define the function, then call submit('done'); graded on hidden inputs"

CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in [
        _cat("gc_content", "GC content of a DNA sequence.", FRACTION, "a fraction between 0 and 1 (graded within +/-0.0001)", gen_gc_content),
        _cat("reverse_complement", "Reverse complement of a DNA sequence.", EXACT, "a DNA string, 5' to 3'", gen_reverse_complement),
        _cat("mrna_from_template", "mRNA transcribed from a template strand.", EXACT, "an RNA string, 5' to 3'", gen_mrna_from_template),
        _cat("translation", "Translation of a coding sequence with a stated genetic code.", EXACT,
             "a protein string in one-letter codes, without the stop", gen_translation),
        _cat("longest_orf", "Protein of the longest open reading frame on either strand.", EXACT,
             "a protein string in one-letter codes, without the stop", gen_longest_orf),
        _cat("orf_count", "Number of distinct proteins encoded by the ORFs of a sequence.", COUNT, "an integer", gen_orf_count),
        _cat("kmer_count", "Occurrences of a k-mer in a sequence.", COUNT, "an integer", gen_kmer_count),
        _cat("most_frequent_kmers", "The most frequent k-mers of a sequence.", SET, "a list of k-mers (order ignored)",
             gen_most_frequent_kmers),
        _cat("motif_positions", "Start positions of a motif.", POSITIONS, "a list of 1-based positions in increasing order",
             gen_motif_positions),
        _cat("iupac_motif_positions", "Start positions of a degenerate (IUPAC) motif.", POSITIONS,
             "a list of 1-based positions in increasing order", gen_iupac_motif_positions),
        _cat("codon_count", "Uses of a codon in a reading frame.", COUNT, "an integer", gen_codon_count),
        _cat("preferred_codon", "The most used codon of an amino acid (codon usage).", EXACT, "a codon, e.g. CTG",
             gen_preferred_codon),
        _cat("hamming_distance", "Hamming distance of two DNA sequences.", COUNT, "an integer", gen_hamming_distance),
        _cat("transition_transversion_ratio", "Transition/transversion ratio of two aligned sequences.", FRACTION,
             "a number (graded within +/-0.0001)", gen_transition_transversion),
        _cat("global_alignment_score", "Global alignment score with Biopython's PairwiseAligner.", SCORE, "a number",
             gen_global_alignment_score),
        _cat("local_protein_alignment_score", "Local protein alignment score with a substitution matrix.", SCORE,
             "a number", gen_local_protein_alignment_score),
        _cat("tm_wallace", "Primer melting temperature by the Wallace rule.", SCORE, "a number of degrees C", gen_tm_wallace),
        _cat("tm_nearest_neighbor", "Primer melting temperature by nearest-neighbour thermodynamics.",
             Grader(rule="numeric", abs_tol=0.01), "a number of degrees C (graded within +/-0.01)", gen_tm_nearest_neighbor),
        _cat("restriction_fragments", "Fragment lengths after a complete restriction digest.", POSITIONS,
             "a list of fragment lengths, 5' to 3'", gen_restriction_fragments),
        _cat("enzymes_that_cut", "Which enzymes of a panel cut a sequence.", SET, "a list of enzyme names (order ignored)",
             gen_enzymes_that_cut),
        _cat("protein_molecular_weight", "Average molecular weight of a protein.", Grader(rule="numeric", abs_tol=0.01),
             "a number of daltons (graded within +/-0.01)", gen_protein_molecular_weight),
        _cat("isoelectric_point", "Isoelectric point of a protein.", Grader(rule="numeric", abs_tol=0.01),
             "a number (graded within +/-0.01)", gen_isoelectric_point),
        _cat("gravy", "Grand average of hydropathy of a protein.", Grader(rule="numeric", abs_tol=1e-4),
             "a number (graded within +/-0.0001)", gen_gravy),
        _cat("reverse_palindromes", "Positions and lengths of reverse palindromes.", POSITIONS,
             "a list of [position, length] pairs", gen_reverse_palindromes),
        _cat("consensus_sequence", "Consensus of aligned sequences.", EXACT, "a DNA string", gen_consensus),
        _cat("edit_distance", "Levenshtein distance of two proteins.", COUNT, "an integer", gen_edit_distance),
        _cat("splice_and_translate", "Remove introns, then translate.", EXACT,
             "a protein string in one-letter codes, without the stop", gen_splice_and_translate),
        _cat("nucleotide_counts", "Counts of A, C, G and T.", POSITIONS, "a list [A, C, G, T] of integers", gen_nucleotide_counts),
        # code-writing: the function verifier calls the agent's function on hidden inputs
        _cat("gc_content_function", "Write gc_content(seq).", FUNCTION, _FN_FORMAT, gen_gc_content_function),
        _cat("reverse_complement_function", "Write reverse_complement(seq).", FUNCTION, _FN_FORMAT,
             gen_reverse_complement_function),
        _cat("translate_function", "Write translate_dna(seq).", FUNCTION, _FN_FORMAT, gen_translate_function),
        _cat("kmer_counts_function", "Write kmer_counts(seq, k).", FUNCTION, _FN_FORMAT, gen_kmer_counts_function),
        _cat("find_motif_function", "Write find_motif(seq, motif).", FUNCTION, _FN_FORMAT, gen_find_motif_function),
        _cat("edit_distance_function", "Write edit_distance(a, b).", FUNCTION, _FN_FORMAT, gen_edit_distance_function),
        _cat("global_alignment_function", "Write nw_score(a, b, match, mismatch, gap).", FUNCTION, _FN_FORMAT,
             gen_global_alignment_function),
        _cat("longest_orf_function", "Write longest_orf(seq).", FUNCTION, _FN_FORMAT, gen_longest_orf_function),
    ]
}

# Balanced answers (issue 17): small counts bunch at 1-4, which a constant answer would pass; at most
# 15 % of a split may have one count (the sampler's other drafts are skipped).
for _name in ("kmer_count", "codon_count"):
    CATEGORIES[_name] = CATEGORIES[_name].model_copy(update={"max_share": 0.15})
