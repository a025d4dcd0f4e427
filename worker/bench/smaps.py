#!/usr/bin/env python3
# Resident memory of one process by mapping, from /proc/PID/smaps (used for BENCHMARKS.md,
# "Worker: warm queries and 32 concurrent clients"):  python3 worker/bench/smaps.py PID
# Prints Rss per mapping name, then the largest contiguous anonymous regions. In workerd these
# are recognisable by their reserved size: V8's pointer-compression cage (4096 MiB), tcmalloc's
# hugepage regions (1024 MiB; workerd links tcmalloc), the wasm memory reservation (~12–13 GiB).
import sys,re,collections
pid=sys.argv[1]
maps=[];cur=None
for line in open(f"/proc/{pid}/smaps"):
    m=re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$",line)
    if m:
        cur={"start":int(m[1],16),"end":int(m[2],16),"perm":m[3],"name":m[4].strip(),"rss":0,"anon":0}
        maps.append(cur)
    elif line.startswith("Rss:"): cur["rss"]=int(line.split()[1])
    elif line.startswith("Anonymous:"): cur["anon"]=int(line.split()[1])
cls=collections.Counter()
for m in maps:
    n=m["name"]
    if n.startswith("/"): k="file:"+n.split("/")[-1]
    elif n: k=n
    else: k="anon"
    cls[k]+=m["rss"]
tot=sum(m["rss"] for m in maps)
print(f"pid {pid}: Rss {tot/1024:.1f} MiB")
for k,v in cls.most_common(8): print(f"  {k:40s} {v/1024:8.1f} MiB")
# anon regions: merge contiguous anonymous mappings
regs=[]
for m in maps:
    if m["name"]=="" :
        if regs and regs[-1]["end"]==m["start"]: regs[-1]["end"]=m["end"]; regs[-1]["rss"]+=m["rss"]; regs[-1]["n"]+=1  # noqa: E702
        else: regs.append({"start":m["start"],"end":m["end"],"rss":m["rss"],"n":1})
regs.sort(key=lambda r:-r["rss"])
print("  largest contiguous anonymous regions (reserved size, Rss, #mappings):")
for r in regs[:6]: print(f"    {r['start']:#x} {(r['end']-r['start'])/2**20:10.0f} MiB reserved  {r['rss']/1024:8.1f} MiB rss  {r['n']}")
