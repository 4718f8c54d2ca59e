#!/usr/bin/env python
# Source: github.com/j3ssie/curated-semgrep-rules, rules/gitlab/python/deserialization/test-cpickle.py
#   (whole file; itself Bandit's examples/pickle_deserialize.py, Apache-2.0, (c) PyCQA).
# Negative: Python 2 cPickle round trips through memory; no byte comes from a network.
# License: Apache 2.0 (c) PyCQA
# source: https://github.com/PyCQA/bandit/blob/master/examples/pickle_deserialize.py
# hash:  8eee173

import cPickle
import StringIO

# cPickle
serialized = cPickle.dumps({(): []})
print(cPickle.loads(serialized))

file_obj = StringIO.StringIO()
cPickle.dump((1,), file_obj)
file_obj.seek(0)
print(cPickle.load(file_obj))

file_obj.seek(0)
print(cPickle.Unpickler(file_obj).load())
