"""What the flood clients share (preauth_flood.py, kafka_flood.py): a process's memory
figures, and a connection that sends a request's head and then its body as fast as the
server reads, never finishing it unless the body is all sent before the deadline."""
import asyncio
import time


def vm(pid, key):
    """VmRSS, VmHWM, ... of process `pid`, in bytes."""
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


async def stream(host, port, head, body, deadline, sent):
    """Sends `head` (bytes), then `body` bytes of zeros until the deadline, adding what was
    written to sent[0]; closes the connection."""
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    except Exception:
        return
    chunk = b"0" * 65536
    try:
        w.write(head)
        left = body
        while left > 0 and time.time() < deadline:
            n = min(left, len(chunk))
            w.write(chunk[:n])
            await asyncio.wait_for(w.drain(), max(0.1, deadline - time.time()))
            left -= n
            sent[0] += n
    except Exception:
        pass
    finally:
        w.close()
