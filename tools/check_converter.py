#!/usr/bin/python3
"""Checks of tools/convert.py's refusals and inputs, on small random models (width 0.35,
5 classes) built with mobilenext_torch.py:

  check_converter.py --cli build/examples/mobilenext [--work-dir DIR]

  a. a bare state dict without --identity-div is refused (exit status 1), naming the option;
  b. with --identity-div it converts, the test vector from the reference implementation;
  c. a checkpoint whose args state identity_div converts without the option;
  d. a float16 .safetensors state dict converts (with labels) and `mobilenext info` checks
     its stored test vector; the converted file converts again from its own metadata;
  e. --module with a TorchScript model of identity divisor 2 is refused under
     --identity-div 1, saying which divisor fits, and accepted under 2 with the test
     vector from the user module; so is a checkpoint holding the nn.Module itself.
"""

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile

import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)

import convert  # noqa: E402
import mobilenext_torch as mx  # noqa: E402
import safetensors_io  # noqa: E402

WIDTH = 0.35
CLASSES = 5
DIV = 2
LABELS = ["zero", "one", "two", "three", "four"]


class Checks:
    def __init__(self):
        self.failures = 0

    def expect(self, ok, what, detail=""):
        """Report one check; on failure also ``detail`` (the tool's output), indented."""
        shown = ""
        if not ok and detail:
            shown = "\n     " + detail.strip().replace("\n", "\n     ")
        print("%s %s%s" % ("ok  " if ok else "FAIL", what, shown), flush=True)
        self.failures += not ok
        return ok


def run_inprocess(argv):
    """(exit status, stdout + stderr) of convert.py run in this process (saves a torch import)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = convert.main(argv)
    return status, out.getvalue()


def metadata(path):
    return safetensors_io.load_file(path)[1]


def cli_checks_test_vector(checks, cli, model, what):
    """`mobilenext info MODEL` loads the file and says its stored test vector was checked."""
    info = subprocess.run([cli, "info", model], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    checks.expect(info.returncode == 0 and "test vector checked" in info.stdout, what,
                  "exit status %d: %s" % (info.returncode, info.stdout))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cli", required=True, help="path of the mobilenext executable")
    p.add_argument("--work-dir")
    args = p.parse_args()
    torch.set_num_threads(1)
    checks = Checks()

    model = mx.build_model(mx.LAYOUT_OFFICIAL, WIDTH, DIV, CLASSES, 3)
    mx.randomize_weights(model, torch.Generator().manual_seed(11))
    model.eval()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    with tempfile.TemporaryDirectory(dir=args.work_dir) as work:
        def path(name):
            return os.path.join(work, name)

        bare = path("bare.pth")
        torch.save(state, bare)

        # a. refused, by the real process and its exit status
        out = path("a.safetensors")
        run = subprocess.run([sys.executable, os.path.join(TOOLS, "convert.py"), bare, "-o", out],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
        checks.expect(run.returncode == 1 and "--identity-div" in run.stdout
                      and "do not show it" in run.stdout and not os.path.exists(out),
                      "a. bare state dict without --identity-div is refused",
                      "exit status %d: %s" % (run.returncode, run.stdout))

        # b. stated on the command line
        out = path("b.safetensors")
        status, text = run_inprocess([bare, "-o", out, "--identity-div", str(DIV), "--check"])
        ok = status == 0
        if ok:
            m = metadata(out)
            ok = (m["mobilenext.identity_div"] == str(DIV)
                  and m.get("mobilenext.test_vector_source") == convert.SOURCE_REFERENCE)
        checks.expect(ok, "b. bare state dict with --identity-div %d converts" % DIV, text)

        # c. stated in the checkpoint's args
        ckpt = path("ckpt.pth.tar")
        torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 1,
                    "args": {"identity_div": DIV}}, ckpt)
        out = path("c.safetensors")
        status, text = run_inprocess([ckpt, "-o", out])
        checks.expect(status == 0 and metadata(out)["mobilenext.identity_div"] == str(DIV),
                      "c. checkpoint with args identity_div %d converts without the option" % DIV,
                      text)

        # d. a float16 safetensors state dict, then the C++ tool checks the test vector
        sf_input = path("state_f16.safetensors")
        safetensors_io.save_file({k: (v.half() if v.is_floating_point() else v)
                                  for k, v in state.items()}, sf_input)
        labels = path("labels.txt")
        with open(labels, "w", encoding="utf-8") as f:
            f.write("\n".join(LABELS) + "\n")
        status, text = run_inprocess([sf_input, "-o", path("d-nodiv.safetensors")])
        checks.expect(status == 1 and "--identity-div" in text,
                      "d. safetensors state dict without --identity-div is refused", text)
        out = path("d.safetensors")
        status, text = run_inprocess([sf_input, "-o", out, "--identity-div", str(DIV),
                                      "--labels", labels, "--check"])
        if checks.expect(status == 0 and json.loads(metadata(out)["mobilenext.labels"]) == LABELS,
                         "d. float16 safetensors state dict converts with labels", text):
            cli_checks_test_vector(checks, args.cli, out, "d. the C++ tool loads it and checks its test vector")
            again = path("d-again.safetensors")
            status, text = run_inprocess([out, "-o", again])
            ok = status == 0 and "taken from the metadata" in text
            if ok:
                m = metadata(again)
                ok = (m["mobilenext.identity_div"] == str(DIV)
                      and json.loads(m["mobilenext.labels"]) == LABELS)
            checks.expect(ok, "d. a converted file converts again from its own metadata", text)

        # e. the user's own model: TorchScript of identity divisor 2
        scripted = path("model_ts.pt")
        torch.jit.save(torch.jit.script(model), scripted)
        out = path("e-wrong.safetensors")
        status, text = run_inprocess([bare, "-o", out, "--module", scripted,
                                      "--identity-div", "1"])
        checks.expect(status == 1 and "identity_div 1" in text
                      and "With --identity-div %d" % DIV in text and not os.path.exists(out),
                      "e. --module (divisor %d) with --identity-div 1 is refused" % DIV, text)
        out = path("e.safetensors")
        status, text = run_inprocess([bare, "-o", out, "--module", scripted,
                                      "--identity-div", str(DIV), "--check"])
        source = metadata(out).get("mobilenext.test_vector_source") if status == 0 else None
        if checks.expect(source == convert.SOURCE_USER,
                         "e. --module with --identity-div %d: test vector from the user module"
                         % DIV, text):
            cli_checks_test_vector(checks, args.cli, out, "e. the C++ tool checks the user module's test vector")
        holder = path("ckpt_module.pth")
        torch.save({"model": model, "epoch": 1}, holder)
        out = path("e-holder.safetensors")
        status, text = run_inprocess([holder, "-o", out, "--identity-div", str(DIV)])
        checks.expect(status == 0
                      and metadata(out).get("mobilenext.test_vector_source") == convert.SOURCE_USER,
                      "e. checkpoint['model'] as an nn.Module: test vector from the user module",
                      text)
        other = mx.build_model(mx.LAYOUT_OFFICIAL, WIDTH, DIV, CLASSES, 3)
        mx.randomize_weights(other, torch.Generator().manual_seed(12))
        other_scripted = path("other_ts.pt")
        torch.jit.save(torch.jit.script(other.eval()), other_scripted)
        status, text = run_inprocess([bare, "-o", path("e-other.safetensors"),
                                      "--module", other_scripted, "--identity-div", str(DIV)])
        checks.expect(status == 1 and "does not hold the weights" in text,
                      "e. --module with other weights is refused", text)

    print("%d failure(s)" % checks.failures)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
