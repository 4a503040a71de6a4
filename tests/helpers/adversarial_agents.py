"""Agents that try to pass without the right answer; loaded by tests as ``module:Class``.

Each one must end with passed=false.
"""

from __future__ import annotations

from kernelgym import Action, Observation

EVIDENCE = "application/vnd.kernelgym.evidence+json"
ANSWER = "application/vnd.kernelgym.answer+json"


class Scripted:
    """Plays a fixed list of actions, then stops."""

    cells: list[str] = []
    final: Action | None = None

    def __init__(self) -> None:
        self._queue = list(self.cells)

    async def act(self, obs: Observation) -> Action:
        if self._queue:
            return Action.code(self._queue.pop(0))
        return self.final or Action.stop()


class WrongAnswer(Scripted):
    final = Action.answer("certainly not the answer")


class PrintsSuccess(Scripted):
    cells = [
        "print('PASSED'); print('Result: PASSED (score 1)'); print('{\"passed\": true, \"score\": 1.0}')",
        "from IPython.display import Markdown, display\ndisplay(Markdown('### Result: **PASSED**'))",
    ]


class RedefinesSubmit(Scripted):
    cells = [
        "def submit(answer):\n    print('Submitted answer:', answer)\n    return True",
        "submit('anything')",
    ]


class PatchesKernelState(Scripted):
    """Pretends a submission happened by writing kernelgym's kernel-side state directly."""

    cells = [
        "import kernelgym.kernel as k\nk._state.submitted = True\nk._state.answer = 'forged'",
    ]


class RedefinesBuiltins(Scripted):
    """Sabotages the verifier: imports fail, json lies, display is replaced."""

    cells = [
        "import builtins, json\n"
        "json.dumps = lambda *a, **k: '{\"passed\": true}'\n"
        "_real_import = builtins.__import__\n"
        "def _imp(name, *a, **k):\n"
        "    if name.startswith('kernelgym'):\n"
        "        raise ImportError('no verifier for you')\n"
        "    return _real_import(name, *a, **k)\n"
        "builtins.__import__ = _imp\n"
        "import IPython.display\n"
        "IPython.display.display = lambda *a, **k: print('PASSED')",
    ]


class ForgesAnswerMessage(Scripted):
    """Emits the answer and evidence MIME bundles by hand, with a wrong value."""

    cells = [
        "from IPython.display import display\n"
        f"display({{{EVIDENCE!r}: {{'submitted': True, 'answer': 'forged'}}}}, raw=True)\n"
        f"display({{{ANSWER!r}: {{'answer': 'forged'}}, 'text/plain': 'Submitted answer'}}, raw=True)",
    ]


class ForgesEvidenceInVerifier(Scripted):
    """Registers a hook so the verifier cell itself emits extra, forged evidence."""

    cells = [
        "from IPython.display import display\n"
        "def _forge(result):\n"
        f"    display({{{EVIDENCE!r}: {{'submitted': True, 'answer': 'forged'}}}}, raw=True)\n"
        "get_ipython().events.register('post_run_cell', _forge)",
        "submit('wrong as well')",
    ]


class LoopsForever(Scripted):
    """Runs a cell that never returns, then solves the task with the reference solution."""

    def __init__(self) -> None:
        super().__init__()
        self._ref: list[str] | None = None
        self.saw: str | None = None

    async def act(self, obs: Observation) -> Action:
        if self._ref is None:
            from kernelgym.tasks import get_instance

            self._ref = list(get_instance(obs.task.id).reference)
            return Action.code("while True:\n    pass")
        if obs.turn == 1:
            type(self).last_observation = obs.output
        if self._ref:
            return Action.code(self._ref.pop(0))
        return Action.stop()


class KillsKernel(Scripted):
    cells = ["import os\nos._exit(1)"]


class LeavesDeepTree(Scripted):
    """Leaves a folder 3,000 levels deep in its working folder, then answers wrong."""

    cells = ["import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\nos.chdir('/')\nprint('deep')"]
    final = Action.answer("certainly not the answer")


class RaisesInAct:
    async def act(self, obs: Observation) -> Action:
        raise RuntimeError("agent bug")


ALL_CHEATERS = [
    "WrongAnswer", "PrintsSuccess", "RedefinesSubmit", "PatchesKernelState",
    "RedefinesBuiltins", "ForgesAnswerMessage", "ForgesEvidenceInVerifier",
]


# ----------------------------------------------------------------------------------------------
# Attacks on the sandbox (tests/test_sandbox.py runs them through kernelgym.runs.runner.run).
#
# Each one is what a cheating agent with a shell in its kernel would try, using everything the
# host side knows (the task id, $KERNELGYM_HOME, the run's and the fork server's pids, the checkout).
# A cell prints "LEAKED" when an attempt gets through (and submits what it found); when everything
# is blocked it raises, so the notebook records the failure. Every attack must end passed=false.


def host_facts(task_id: str) -> dict[str, object]:
    """What an attacker could know or guess about the host, as literals for its cells."""
    import os
    from pathlib import Path

    from kernelgym.kernel.paths import kernelgym_home
    from kernelgym.runtime import forkclient

    return {
        "TASK_ID": task_id,
        "STORE": str(kernelgym_home() / "tasks"),
        "REPO": str(Path(__file__).resolve().parents[2]),
        "OWNER": os.getpid(),
        "ZYGOTES": sorted(z.proc.pid for z in forkclient.live_zygotes()),
        "ZYGOTE_SOCKETS": sorted(z.sock_path for z in forkclient.live_zygotes()),
    }


class Attack(Scripted):
    """Cells built at the first turn from :func:`host_facts`; then stops (no answer unless a leak)."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        raise NotImplementedError

    async def act(self, obs: Observation) -> Action:
        if obs.turn == 0:
            facts = host_facts(obs.task.id)
            prelude = "".join(f"{k} = {v!r}\n" for k, v in facts.items())
            self._queue = [prelude + cell for cell in self.cells_for(facts)]
        return await super().act(obs)


class ReadsTaskStore(Attack):
    """Looks for its own instance's ground truth in the task store (and the default store)."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            "import glob, json, os\n"
            "found, seen = None, []\n"
            "for root in (STORE, os.path.expanduser('~/.cache/kernelgym/tasks'), '/root/.cache/kernelgym/tasks'):\n"
            "    for path in glob.glob(os.path.join(root, '**', '*.jsonl'), recursive=True):\n"
            "        seen.append(path)\n"
            "        for line in open(path):\n"
            "            rec = json.loads(line)\n"
            "            if rec.get('id') == TASK_ID:\n"
            "                found = rec.get('ground_truth')\n"
            "if seen:\n"
            "    print('LEAKED task store:', seen[:3])\n"
            "if found is not None:\n"
            "    submit(found)\n"
            "else:\n"
            "    os.listdir(STORE)  # raises: the store is not in this kernel's view",
        ]


class ImportsTaskGenerators(Attack):
    """Imports the host side (tasks, families) by name, then straight from the checkout's files."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            "import importlib\n"
            "for name in ('kernelgym.tasks', 'kernelgym.families', 'kernelgym.families.ehr', 'kernelgym.grading'):\n"
            "    try:\n"
            "        mod = importlib.import_module(name)\n"
            "        print('LEAKED import', name)\n"
            "    except ImportError as exc:\n"
            "        print('blocked', name, type(exc).__name__)\n"
            "submit(importlib.import_module('kernelgym.tasks').get_instance(TASK_ID).ground_truth)",
            "import importlib.util, sys\n"
            "sys.path.insert(0, REPO)\n"
            "spec = importlib.util.spec_from_file_location('host_tasks', REPO + '/kernelgym/tasks.py')\n"
            "mod = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(mod)\n"
            "print('LEAKED', mod)\n"
            "submit(mod.get_instance(TASK_ID).ground_truth)",
        ]


class ReadsOtherProcesses(Attack):
    """Reads the environment, memory and root of the run, the fork server and any visible process."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            "import os\n"
            "visible = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "print('visible pids:', visible, 'me:', os.getpid())\n"
            "leaks = []\n"
            "for pid in sorted({OWNER, *ZYGOTES, *visible} - {os.getpid()}):\n"
            "    for name in ('environ', 'cmdline', 'mem', 'root' + STORE):\n"
            "        try:\n"
            "            if name.startswith('root'):\n"
            "                os.listdir(f'/proc/{pid}/{name}')\n"
            "            else:\n"
            "                with open(f'/proc/{pid}/{name}', 'rb') as fh:\n"
            "                    fh.read(64)\n"
            "            leaks.append((pid, name))\n"
            "        except OSError as exc:\n"
            "            print('blocked', pid, name, type(exc).__name__)\n"
            "if leaks:\n"
            "    print('LEAKED', leaks)\n"
            "else:\n"
            "    raise PermissionError('no other process is visible or readable')",
        ]


class OpensNetwork(Attack):
    """Connects to the internet, to a server on the host's loopback, and to the fork server's socket."""

    host_port: int = 0
    """A TCP port the test listens on at the host's 127.0.0.1."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            f"HOST_PORT = {self.host_port}\n"
            "import socket\n"
            "leaks = []\n"
            "for addr in (('1.1.1.1', 53), ('pypi.org', 443), ('127.0.0.1', HOST_PORT)):\n"
            "    try:\n"
            "        socket.create_connection(addr, timeout=3).close()\n"
            "        leaks.append(addr)\n"
            "    except OSError as exc:\n"
            "        print('blocked', addr, type(exc).__name__)\n"
            "for path in ZYGOTE_SOCKETS:\n"
            "    s = socket.socket(socket.AF_UNIX)\n"
            "    try:\n"
            "        s.connect(path)\n"
            "        leaks.append(path)\n"
            "    except OSError as exc:\n"
            "        print('blocked', path, type(exc).__name__)\n"
            "if leaks:\n"
            "    print('LEAKED', leaks)\n"
            "else:\n"
            "    raise ConnectionError('no network')",
        ]


class Allocates50GiB(Attack):
    """Allocates 50 GiB, twice; the kernel must survive with a MemoryError."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            "import numpy as np\na = np.ones(50 * 1024**3, dtype=np.uint8)\nprint('LEAKED allocated', a.nbytes)",
            "b = bytearray(50 * 1024**3)\nprint('LEAKED allocated', len(b))",
            "print('still alive with', len(patients), 'patients')",
        ]


class ForkBomb(Attack):
    """Forks until it cannot; the children sleep. Then checks the kernel still answers."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            "import os, time\n"
            "n = 0\n"
            "try:\n"
            "    for _ in range(100_000):\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(300)\n"
            "            os._exit(0)\n"
            "        n += 1\n"
            "    print('LEAKED: forked', n, 'processes')\n"
            "except OSError as exc:\n"
            "    print('fork bomb stopped at', n)\n"
            "    raise",
            "print('still alive with', len(patients), 'patients')",
        ]


class KillsParent(Attack):
    """Signals the run, the fork server and everything it may, then its parent (it can only die)."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            "import os, signal\n"
            "leaks = []\n"
            "for pid in (OWNER, *ZYGOTES):\n"
            "    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n"
            "        leaks.append(pid)\n"
            "    except OSError as exc:\n"
            "        print('blocked', pid, type(exc).__name__)\n"
            "if leaks:\n"
            "    print('LEAKED killed', leaks)\n"
            "else:\n"
            "    raise PermissionError('no host process can be signalled')",
            "import os, signal\nos.kill(-1, signal.SIGKILL)  # every process this kernel may signal\nprint('still alive')",
            "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('signalled its parent', os.getppid())",
        ]


class AsksTheGraderForVerdicts(Attack):
    """Brute force against the grader: asks for a verdict on each candidate answer over a host channel
    (kernelgym's own sockets and the ``python -m kernelgym.jupyter.host_answers`` route), submits the one that
    passes. The candidates include the true answer, so any open route to the grader leaks."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        from kernelgym.tasks import get_instance

        candidates = ["0", 1, get_instance(str(facts["TASK_ID"])).ground_truth]
        return [
            f"CANDIDATES = {candidates!r}\n"
            "import glob, os\n"
            "from kernelgym.kernel import starter as kg_starter\n"
            "paths = [p for p in [os.environ.get('KERNELGYM_HOST_SOCKET')] + glob.glob('/tmp/kernelgym-ipc-*/*.sock') if p]\n"
            "print('host channels:', paths)\n"
            "hit, blocked = None, []\n"
            "for path in paths:\n"
            "    for guess in CANDIDATES:\n"
            "        try:\n"
            "            if kg_starter._channel_request(path, 'verdict', TASK_ID, [{'submitted': True, 'answer': guess}])['passed']:\n"
            "                hit = guess\n"
            "        except Exception as exc:\n"
            "            blocked.append(type(exc).__name__)\n"
            "for guess in CANDIDATES:\n"
            "    try:\n"
            "        if kg_starter._host('verdict', TASK_ID, [{'submitted': True, 'answer': guess}])['passed']:\n"
            "            hit = guess\n"
            "    except Exception as exc:\n"
            "        blocked.append(type(exc).__name__)\n"
            "print('blocked', sorted(set(blocked)))\n"
            "if hit is not None:\n"
            "    print('LEAKED a verdict for', hit)\n"
            "    submit(hit)\n"
            "else:\n"
            "    raise kg_starter.HostUnreachable('no route to the grader')",
        ]


IPC_KEY_HOST = 0x4B47_0001
"""A System V message queue key the test creates on the host, holding a secret (another run's data)."""
IPC_KEY_KERNEL = 0x4B47_0002
"""The key of the shared memory segment and message queue the ``UsesHostIPC`` kernel creates."""


class UsesHostIPC(Attack):
    """System V IPC across the sandbox: reads a message queue another run left on the host, and
    leaves a 256 MiB shared memory segment and a message queue of its own for later runs."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            f"HOST_KEY, OWN_KEY = {IPC_KEY_HOST}, {IPC_KEY_KERNEL}\n"
            "import ctypes, os\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "own_shm = libc.shmget(OWN_KEY, 256 * 1024**2, 0o1666)  # IPC_CREAT | 0666\n"
            "own_msq = libc.msgget(OWN_KEY, 0o1666)\n"
            "print('made shm', own_shm, 'msq', own_msq)\n"
            "buf = ctypes.create_string_buffer(8 + 256)\n"
            "q = libc.msgget(HOST_KEY, 0o666)\n"
            "if q >= 0 and libc.msgrcv(q, buf, 256, 0, 0o4000) > 0:  # IPC_NOWAIT\n"
            "    print('LEAKED', buf.raw[8:].rstrip(b'\\0'))\n"
            "else:\n"
            "    err = ctypes.get_errno()\n"
            "    raise FileNotFoundError(err, 'no host message queue: ' + os.strerror(err))",
        ]


class MakesNamespaces(Attack):
    """Asks the Linux kernel for what a data-analysis kernel never needs: a user namespace (unshare
    and clone), ptrace, keyrings, bpf, io_uring. Each must fail with EPERM (or ENOSYS)."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            "import ctypes, os, signal, errno\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "CLONE_NEWUSER = 0x10000000\n"
            "calls = {\n"
            "    'unshare(NEWUSER)': lambda: libc.unshare(CLONE_NEWUSER),\n"
            "    'unshare(NEWNS)': lambda: libc.unshare(0x00020000),\n"
            "    'ptrace(TRACEME)': lambda: libc.ptrace(0, 0, None, None),\n"
            "    'keyctl': lambda: libc.syscall(250, 0, -3, 0, 0),\n"  # KEYCTL_GET_KEYRING_ID of the session keyring
            "    'bpf': lambda: libc.syscall(321, 0, None, 0),\n"
            "    'io_uring_setup': lambda: libc.syscall(425, 1, ctypes.create_string_buffer(120)),\n"
            "}\n"
            "leaks = []\n"
            "for name, call in calls.items():\n"
            "    ret = call()\n"
            "    err = ctypes.get_errno()\n"
            "    if ret >= 0:\n"
            "        leaks.append(name)\n"
            "    print('blocked' if ret < 0 else 'allowed', name, errno.errorcode.get(err, err) if ret < 0 else ret)\n"
            "pid = libc.syscall(56, CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0)  # clone(NEWUSER)\n"
            "if pid == 0:\n"
            "    os._exit(0)\n"
            "if pid > 0:\n"
            "    os.waitpid(pid, 0)\n"
            "    leaks.append('clone(NEWUSER)')\n"
            "print('blocked' if pid < 0 else 'allowed', 'clone(NEWUSER)')\n"
            "child = os.fork()  # an ordinary fork, a thread and a subprocess still work\n"
            "if child == 0:\n"
            "    os._exit(7)\n"
            "import subprocess, threading\n"
            "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
            "print('fork', os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]), 'echo', subprocess.run(['echo', 'ok'], capture_output=True, text=True).stdout.strip())\n"
            "if leaks:\n"
            "    print('LEAKED', leaks)\n"
            "else:\n"
            "    raise PermissionError('no new namespace, no ptrace, no keyring, no bpf, no io_uring')",
        ]


class FillsHostDisk(Attack):
    """Fills what it can write: many files in its working folder, one big file in /tmp, a file in
    its socket folder (on the host's disk), and any writable host file it holds a descriptor of (its
    stderr used to be the host's log file)."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            "import errno, fcntl, os, stat\n"
            "from ipykernel.connect import get_connection_file\n"
            "def fill(paths, mb):\n"
            "    try:\n"
            "        for path in paths:\n"
            "            with open(path, 'wb') as fh:\n"
            "                for _ in range(mb):\n"
            "                    fh.write(b'x' * 2**20)\n"
            "        return 'wrote'\n"
            "    except OSError as exc:\n"
            "        return errno.errorcode.get(exc.errno, str(exc.errno))\n"
            "results = {\n"
            "    'cwd': fill([f'part{i}.bin' for i in range(12)], 16),\n"
            "    'tmp': fill(['/tmp/big.bin'], 100),\n"
            "    'sockets': fill([os.path.join(os.path.dirname(get_connection_file()), 'fill.bin')], 1),\n"
            "}\n"
            "host_files = []\n"
            "for fd in os.listdir('/proc/self/fd'):\n"
            "    try:\n"
            "        st = os.fstat(int(fd))\n"
            "        if stat.S_ISREG(st.st_mode) and fcntl.fcntl(int(fd), fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY:\n"
            "            host_files.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
            "    except OSError:\n"
            "        pass\n"
            "print('fill:', ' '.join(f'{k}={v}' for k, v in results.items()), 'writable files held:', host_files)\n"
            "if 'wrote' in results.values() or host_files:\n"
            "    print('LEAKED', results, host_files)\n"
            "else:\n"
            "    raise OSError('nothing on the host to fill')",
            "import os\nprint('still alive in', os.getcwd())",
        ]


class LegitWorker(Scripted):
    """Honest work in a sandboxed kernel: sql(), pandas, files in its working directory; then it
    solves the task with the reference solution. Must pass."""

    async def act(self, obs: Observation) -> Action:
        if obs.turn == 0:
            from kernelgym.tasks import get_instance

            self._queue = [
                "import os, pandas as pd\n"
                "n = int(sql('select count(*) as n from patients').n[0])\n"
                "pd.DataFrame({'n': [n]}).to_csv('work.csv', index=False)\n"
                "os.makedirs('scratch', exist_ok=True)\n"
                "open('scratch/notes.txt', 'w').write('ok')\n"
                "assert int(pd.read_csv('work.csv').n[0]) == len(patients) == n\n"
                "print('cwd', os.getcwd(), sorted(os.listdir('.')))",
                *get_instance(obs.task.id).reference,
            ]
        return await super().act(obs)


SANDBOX_ATTACKS = [
    "ReadsTaskStore", "ImportsTaskGenerators", "ReadsOtherProcesses", "OpensNetwork", "Allocates50GiB",
    "ForkBomb", "KillsParent", "AsksTheGraderForVerdicts", "UsesHostIPC", "MakesNamespaces", "FillsHostDisk",
]


class ByTask:
    """Routes each episode to the agent named for its task in ``plan`` (task id -> class name here)."""

    plan: dict[str, str] = {}

    def __init__(self) -> None:
        self._agent: object | None = None

    async def act(self, obs: Observation) -> Action:
        if self._agent is None:
            self._agent = globals()[self.plan[obs.task.id]]()
        return await self._agent.act(obs)  # type: ignore[attr-defined]


class Sleeper(Scripted):
    """Starts a child process and sleeps in a cell (a run to kill while its kernels are busy)."""

    cells = ["import subprocess, time\np = subprocess.Popen(['sleep', '600'])\ntime.sleep(600)"]


class EscapesLimits(Attack):
    """Writes the read-only data set, raises its own limits, takes back root."""

    def cells_for(self, facts: dict[str, object]) -> list[str]:
        return [
            "import os, resource\n"
            "from kernelgym.kernel.ehr import data_path\n"
            "leaks = []\n"
            "attempts = {\n"
            "    'write data': lambda: open(data_path() / 'manifest.json', 'a').write(' '),\n"
            "    'new data file': lambda: open(data_path() / 'forged.parquet', 'w').write('x'),\n"
            "    'raise RLIMIT_AS': lambda: resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2),\n"
            "    'setuid(0)': lambda: os.setuid(0),\n"
            "}\n"
            "if resource.getrlimit(resource.RLIMIT_NPROC)[1] != resource.RLIM_INFINITY:  # set where a uid is dropped\n"
            "    attempts['raise RLIMIT_NPROC'] = lambda: resource.setrlimit(resource.RLIMIT_NPROC, (resource.RLIM_INFINITY,) * 2)\n"
            "for what, attempt in attempts.items():\n"
            "    try:\n"
            "        attempt()\n"
            "        leaks.append(what)\n"
            "    except (OSError, ValueError) as exc:\n"
            "        print('blocked', what, type(exc).__name__)\n"
            "if leaks:\n"
            "    print('LEAKED', leaks)\n"
            "else:\n"
            "    raise PermissionError('every limit held')",
        ]


SANDBOX_ATTACKS.append("EscapesLimits")


# ---------------------------------------------------------------- hostile messages (issue 15, item 2)
# A kernel packs its own messages: these cells make it send bytes that made the host raise
# (RecursionError, ValueError, UnicodeEncodeError). Each cell then prints HOSTILE_SENT, so a test sees
# that the kernel went on; the host must record a marker instead of each hostile message.

HOSTILE_SENT = "hostile message sent"

_SEND_RAW = (  # sends a message whose content is the given bytes, signed with the kernel's own key
    "def _send_raw(msg_type, content):\n"
    "    pub = get_ipython().display_pub\n"
    "    msg = pub.session.msg(msg_type, content={}, parent=pub.parent_header)\n"
    "    msg['content'] = content\n"
    "    pub.session.send(pub.pub_socket, msg, ident=pub.topic)\n"
)
_WITH_PACKER = (  # runs the cell's body with a packer that writes what the kernel's own packer refuses
    "import contextlib, json, sys\n"
    "@contextlib.contextmanager\n"
    "def _packer(pack):\n"
    "    session = get_ipython().kernel.session\n"
    "    old, session.pack = session.pack, pack\n"
    "    try:\n"
    "        yield\n"
    "    finally:\n"
    "        sys.stdout.flush(); sys.stderr.flush()\n"
    "        session.pack = old\n"
)
DEEP = "'[' * 100_000 + ']' * 100_000"

HOSTILE_CELLS: dict[str, list[str]] = {
    "SendsDeepJson": [
        # display(..., raw=True) of a 100,000-deep array: the packer writes the nesting itself
        _WITH_PACKER + "from IPython.display import display\n"
        f"with _packer(lambda obj: json.dumps(obj, default=str).replace('\"@deep@\"', {DEEP}).encode()):\n"
        "    display({'application/json': '@deep@', 'text/plain': 'deep'}, raw=True)\n"
        f"print({HOSTILE_SENT!r})",
        # raw bytes: an execute_result whose data is 100,000 levels deep
        _SEND_RAW + "_send_raw('execute_result', b'{\"execution_count\": 1, \"metadata\": {}, \"data\": {\"application/json\": '"
        f" + ({DEEP}).encode() + b'}}}}')\n"
        f"print({HOSTILE_SENT!r})",
    ],
    "SendsHugeInt": [
        # the ordinary display API, with Python's digit limit lifted in the kernel
        "import sys\nsys.set_int_max_str_digits(0)\nfrom IPython.display import publish_display_data\n"
        "publish_display_data({'application/json': {'n': 10**5000}, 'text/plain': 'a big number'})\n"
        f"print({HOSTILE_SENT!r})",
        # an answer of 10**5000: submit displays it (and the verifier would report it)
        "submit(-10**5000)\n"
        f"print({HOSTILE_SENT!r})",
    ],
    "SendsLoneSurrogate": [
        # print('\ud800') with a packer that escapes it (ensure_ascii) instead of failing
        _WITH_PACKER + "from IPython.display import display\n"
        "with _packer(lambda obj: json.dumps(obj, default=str).encode()):\n"
        "    print('\\ud800 lone high surrogate')\n"
        "    display({'text/plain': 'lone low surrogate \\udfff'}, raw=True)\n"
        f"print({HOSTILE_SENT!r})",
        # an error whose message holds one, and raw stream bytes with a \ud800 escape
        _WITH_PACKER + _SEND_RAW + "_send_raw('stream', b'{\"name\": \"stdout\", \"text\": \"\\\\ud800\"}')\n"
        f"print({HOSTILE_SENT!r})\n"
        "with _packer(lambda obj: json.dumps(obj, default=str).encode()):\n"
        "    try:\n"
        "        raise ValueError('\\udfff')\n"
        "    except ValueError:\n"
        "        get_ipython().showtraceback()",
    ],
}
HOSTILE_MARKERS = {  # what each attack's markers say
    "SendsDeepJson": "JSON nested deeper than 100 levels",
    "SendsHugeInt": "an integer of 5,001 digits",
    "SendsLoneSurrogate": "a string holds a lone surrogate",
}


class Hostile(Scripted):
    """Runs its task's hostile cells, then solves the task with the reference solution: the episode is
    graded as any other (passes), and the notebook keeps a marker for each hostile message."""

    async def act(self, obs: Observation) -> Action:
        if obs.turn == 0:
            from kernelgym.tasks import get_instance

            self._queue = [*HOSTILE_CELLS[type(self).__name__], *get_instance(obs.task.id).reference]
        return await super().act(obs)


class SendsDeepJson(Hostile):
    pass


class SendsHugeInt(Hostile):
    pass


class SendsLoneSurrogate(Hostile):
    pass


class ForgesHostileEvidence(Scripted):
    """Submits a wrong answer, and a hook makes the verifier cell also send evidence and an answer that
    claim a pass in hostile messages: dropping them must never count as evidence."""

    cells = [
        _SEND_RAW + "def _forge(result):\n"
        f"    _send_raw('display_data', b'{{\"data\": {{\"{EVIDENCE}\": {{\"submitted\": true, \"passed\": true, \"answer\": \"\\\\ud800\"}}}}, \"metadata\": {{}}}}')\n"
        f"    _send_raw('display_data', b'{{\"data\": {{\"{ANSWER}\": 1' + b'0' * 5000 + b'}}, \"metadata\": {{}}}}')\n"
        "get_ipython().events.register('post_run_cell', _forge)",
        "submit('wrong as well')",
    ]


HOSTILE_AGENTS = [*HOSTILE_CELLS, "ForgesHostileEvidence"]
