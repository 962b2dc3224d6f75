"""The README's recipes for Java (Curator) and Go tests, run as written: each starts
``zkcompat serve --in-memory --port 0 --print-port`` itself, reads the port and talks to it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from clientkit import HERE, build, require_file, require_tool

JARS = Path("/usr/share/java")
CLASSPATH = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "curator-client.jar", "curator-framework.jar",
             "curator-recipes.jar", "guava.jar"]
RECIPES = HERE / "recipes"


def _env(**extra) -> dict:
    """The `zkcompat` console script of this Python on PATH, as after `pip install zkcompat`."""
    path = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path, **extra)


def test_java_curator_recipe(build_dir):
    require_tool("javac", "apt-get install -y default-jdk-headless")
    cp = os.pathsep.join(str(require_file(JARS / n, "apt-get install -y zookeeper libcurator-recipes-java"))
                         for n in CLASSPATH)
    out = build_dir / "recipe-java"
    out.mkdir()
    build(["javac", "-nowarn", "-d", str(out), "-cp", cp, str(RECIPES / "ZkcompatRecipe.java")],
          what="the README's Java recipe")
    run = subprocess.run([shutil.which("java") or "java", "-cp", os.pathsep.join([str(out), cp]), "ZkcompatRecipe"],
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[-1] == "world"


def test_go_recipe(build_dir):
    go = require_tool("go", "apt-get install -y golang-go")
    gocode = Path("/usr/share/gocode")
    require_file(gocode / "src/github.com/samuel/go-zookeeper/zk", "apt-get install -y golang-github-samuel-go-zookeeper-dev")
    env = _env(GOPATH=str(gocode), GO111MODULE="off", GOFLAGS="", GOPROXY="off", GOCACHE=str(build_dir / "recipe-gocache"),
               CGO_ENABLED="0")
    run = subprocess.run([go, "test", "-count=1", "."], cwd=RECIPES / "go", env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.stdout.startswith("ok")
