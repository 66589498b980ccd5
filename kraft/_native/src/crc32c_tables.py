"""Print the lookup tables of crc32c.c (run: python3 crc32c_tables.py 8192 256).

kraft_crc32c_slice8: slicing-by-8 tables of the reflected Castagnoli
polynomial.  kraft_crc32c_shift_long/_short: for a raw (not inverted) CRC
register, the effect of appending LONG or SHORT zero bytes, split by byte of
the register so the shift is four lookups (the map is linear over GF(2)).

``fold_constants(distance)`` gives KRAFT_CRC32C_FOLD_HI/_LO, the carry-less
multipliers that move a 128-bit lane ``distance`` bytes ahead.
"""
import sys

POLYNOMIAL = 0x82F63B78


def byte_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (POLYNOMIAL if crc & 1 else 0)
        table.append(crc)
    return table


def slicing_tables(base):
    tables = [base]
    for _ in range(7):
        previous = tables[-1]
        tables.append([(entry >> 8) ^ base[entry & 0xFF] for entry in previous])
    return tables


def zeros_tables(base, nbytes):
    images = []
    for bit in range(32):
        crc = 1 << bit
        for _ in range(nbytes):
            crc = (crc >> 8) ^ base[crc & 0xFF]
        images.append(crc)

    def shift(register):
        result = 0
        for bit in range(32):
            if register >> bit & 1:
                result ^= images[bit]
        return result

    return [[shift(byte << (8 * lane)) for byte in range(256)] for lane in range(4)]


def x_power_mod(exponent):
    """x**exponent modulo the Castagnoli polynomial (normal bit order)."""
    modulus = 0x1EDC6F41 | 1 << 32
    result = 1
    for _ in range(exponent):
        result <<= 1
        if result >> 32:
            result ^= modulus
    return result


def reflect64(value):
    return int(f"{value:064b}"[::-1], 2)


def fold_constants(distance):
    """(HI, LO): reflected x^(8d+63) mod P and x^(8d-1) mod P."""
    return reflect64(x_power_mod(8 * distance + 63)), reflect64(x_power_mod(8 * distance - 1))


def c_array(name, rows):
    lines = [f"static const uint32_t {name}[{len(rows)}][256] = {{"]
    for row in rows:
        lines.append("    {")
        for start in range(0, 256, 6):
            lines.append("        " + ", ".join(f"0x{x:08x}" for x in row[start:start + 6]) + ",")
        lines.append("    },")
    lines.append("};")
    return "\n".join(lines)


def main(argv):
    long_block, short_block = int(argv[1]), int(argv[2])
    base = byte_table()
    print(c_array("kraft_crc32c_slice8", slicing_tables(base)))
    print()
    print(c_array("kraft_crc32c_shift_long", zeros_tables(base, long_block)))
    print()
    print(c_array("kraft_crc32c_shift_short", zeros_tables(base, short_block)))


if __name__ == "__main__":
    main(sys.argv)
