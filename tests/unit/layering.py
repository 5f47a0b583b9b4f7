#!/usr/bin/env python3
"""The layering of regzone's sources, checked from their #include lines.

  1. zonegen/ and acme/ are libraries: nothing in them includes a daemon/
     header (nor mentions daemon/ in an include at all).
  2. The daemon's modules include each other without a cycle.  A module is
     a header daemon/M.h with daemon/M.c and its parts daemon/M_*.c (and a
     private daemon/M_int.h); module A depends on B when a file of A
     includes daemon/B.h.
  3. No source file is longer than MAX_LINES lines, and no function longer
     than MAX_FUNC lines (a function is a line "{" at column 0 to the next
     "}" at column 0, the style of the tree).

  python3 tests/unit/layering.py SRCDIR [--selftest]

Prints what it found and exits 1 on any breach.  --selftest feeds the
checks a tree with a bad include and a cycle and expects both found (so the
test can fail).
"""
import os
import re
import sys

MAX_LINES = 800
MAX_FUNC = 120
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(root, sub):
    d = os.path.join(root, sub)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(sub, f) for f in os.listdir(d) if f.endswith(('.c', '.h')))


def includes(root, path):
    with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
        return INCLUDE.findall(f.read())


def module_of(name, headers):
    """daemon/store_intake.c -> store (daemon/store.h exists)."""
    base = os.path.splitext(os.path.basename(name))[0]
    if base.endswith('_int'):
        base = base[:-4]
    if base in headers:
        return base
    parts = base.split('_')
    for i in range(len(parts) - 1, 0, -1):
        prefix = '_'.join(parts[:i])
        if prefix in headers:
            return prefix
    return base


def check_libraries(root, files_of):
    bad = []
    for lib in ('zonegen', 'acme'):
        for path in files_of(lib):
            for inc in includes(root, path):
                if inc.startswith('daemon/'):
                    bad.append('%s includes "%s": %s/ must not reach up into daemon/'
                               % (path, inc, lib))
    return bad


def daemon_graph(root, files):
    headers = {os.path.splitext(os.path.basename(p))[0] for p in files if p.endswith('.h')}
    graph = {}
    for path in files:
        a = module_of(path, headers)
        for inc in includes(root, path):
            if not inc.startswith('daemon/'):
                continue
            b = module_of(inc, headers)
            if b != a:
                graph.setdefault(a, set()).add(b)
        graph.setdefault(a, set())
    return graph


def find_cycle(graph):
    """A cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if state.get(n) is None:
                c = visit(n)
                if c:
                    return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if state.get(m) is None:
            c = visit(m)
            if c:
                return c
    return None


def check_lengths(root, paths):
    bad = []
    for path in paths:
        if not path.endswith('.c'):
            continue
        with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            bad.append('%s has %d lines (at most %d: split it by concern)' % (path, n, MAX_LINES))
    return bad


def check_functions(root, paths):
    bad = []
    for path in paths:
        if not path.endswith('.c'):
            continue
        with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
            lines = f.read().split('\n')
        start = None
        for i, line in enumerate(lines):
            if line == '{':
                start = i
            elif line == '}' and start is not None:
                n = i - start + 1
                if n > MAX_FUNC:
                    head = lines[start - 1].strip() if start > 0 else '?'
                    bad.append('%s:%d: a function of %d lines (at most %d): %s'
                               % (path, start, n, MAX_FUNC, head[:60]))
                start = None
    return bad


def run(root, files_of):
    problems = check_libraries(root, files_of)
    graph = daemon_graph(root, files_of('daemon'))
    cycle = find_cycle(graph)
    if cycle:
        problems.append('daemon modules include each other in a cycle: ' + ' -> '.join(cycle))
    every = files_of('daemon') + files_of('zonegen') + files_of('acme')
    problems += check_lengths(root, every)
    problems += check_functions(root, every)
    return problems, graph


def selftest():
    import tempfile
    with tempfile.TemporaryDirectory() as t:
        tree = {
            'zonegen/a.c': '#include "zonegen/a.h"\n#include "daemon/rz_err.h"\n',
            'zonegen/a.h': '',
            'acme/b.c': '#include "acme/b.h"\n',
            'acme/b.h': '',
            'daemon/x.h': '#include "daemon/y.h"\n',
            'daemon/x.c': '#include "daemon/x.h"\n',
            'daemon/y.h': '',
            'daemon/y_part.c': '#include "daemon/y.h"\n#include "daemon/x.h"\n',
            'acme/long.c': 'int f(void)\n{\n' + '\t;\n' * MAX_FUNC + '}\n',
        }
        for p, text in tree.items():
            os.makedirs(os.path.join(t, os.path.dirname(p)), exist_ok=True)
            with open(os.path.join(t, p), 'w') as f:
                f.write(text)
        problems, _ = run(t, lambda sub: sources(t, sub))
        found_include = any('zonegen/a.c includes "daemon/rz_err.h"' in p for p in problems)
        found_cycle = any('cycle' in p and 'x' in p and 'y' in p for p in problems)
        found_long = any('acme/long.c' in p and 'function' in p for p in problems)
        if not (found_include and found_cycle and found_long):
            print('selftest: the checks missed a planted problem:', problems)
            return 1
        print('selftest: a bad include, a cycle and a long function are all found')
        return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    if selftest() != 0:
        return 1
    problems, graph = run(root, lambda sub: sources(root, sub))
    print('daemon modules: %d, dependencies: %d' % (len(graph), sum(len(v) for v in graph.values())))
    for p in problems:
        print('FAIL', p)
    if problems:
        return 1
    print('ok: zonegen/ and acme/ include nothing of daemon/, no cycle among daemon modules, '
          'no source file over %d lines, no function over %d' % (MAX_LINES, MAX_FUNC))
    return 0


if __name__ == '__main__':
    sys.exit(main())
