# Sum the first two 8-byte words of the memory given in r1 (length in r2),
# refusing to read past its end.
        r0 = 0
        if r2 < 16 goto out
        r3 = *(u64 *)(r1 +0)
        r4 = *(u64 *)(r1 +8)
        r0 = r3
        r0 += r4
out:
        exit
