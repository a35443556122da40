"""kazoo (python3-kazoo) against a server with SASL DIGEST-MD5, for the
SASL interop test: one line per step, compared between zkserver and
Apache ZooKeeper. Usage: kazoo_check.py host:port path user password."""
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, NoAuthError
from kazoo.security import make_acl

hosts, path, user, password = sys.argv[1:5]
zk = KazooClient(hosts=hosts, timeout=10,
                 sasl_options={"mechanism": "DIGEST-MD5", "username": user, "password": password},
                 connection_retry={"max_tries": 0}, command_retry={"max_tries": 0})
try:
    zk.start(timeout=15)
except AuthFailedError as e:
    print("start: AuthFailedError")
    sys.exit(0)
except Exception as e:  # kazoo reports a dropped SASL connection in several ways
    print("start: " + type(e).__name__)
    sys.exit(0)
print("start: ok")
try:
    zk.create(path, b"kazoo", acl=[make_acl("sasl", user, all=True)])
except Exception as e:
    print("create: " + type(e).__name__)
    sys.exit(0)
print("create: ok")
data, _ = zk.get(path)
print("get: " + data.decode())
acl, _ = zk.get_acls(path)
print("acl: " + ",".join("%s:%s:%d" % (a.id.scheme, a.id.id, a.perms) for a in acl))
zk.stop()
zk.close()

anon = KazooClient(hosts=hosts, timeout=10)
anon.start(timeout=15)
try:
    anon.get(path)
    print("anonymous get: ok")
except NoAuthError:
    print("anonymous get: NoAuthError")
anon.stop()
anon.close()
