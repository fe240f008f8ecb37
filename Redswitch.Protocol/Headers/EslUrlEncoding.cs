using System.Buffers;
using System.Text;

namespace Redswitch.Protocol.Headers;

/// <summary>
/// FreeSWITCH's URL encoding of header values (switch_url_encode_opt) and libesl's decoding.
/// Decoding works on bytes and reads the result as UTF-8, so <c>+</c> stays <c>+</c>.
/// </summary>
public static class EslUrlEncoding
{
    private static readonly SearchValues<byte> Unsafe = SearchValues.Create(BuildUnsafe());

    private static byte[] BuildUnsafe()
    {
        var list = new List<byte>();
        for (var b = 0; b < 256; b++)
        {
            if (b < 0x20 || b > 0x7E || " #%&+:;<=>?@[\\]^`{|}\"".Contains((char)b))
            {
                list.Add((byte)b);
            }
        }

        return list.ToArray();
    }

    /// <summary>Encodes a value the way FreeSWITCH writes it into a plain event.</summary>
    public static string Encode(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var output = new ArrayBufferWriter<byte>(bytes.Length + 16);
        Encode(bytes, output);
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }

    /// <summary>Appends the encoded form of <paramref name="value"/> to <paramref name="output"/>.</summary>
    public static void Encode(ReadOnlySpan<byte> value, IBufferWriter<byte> output)
    {
        while (!value.IsEmpty)
        {
            var next = value.IndexOfAny(Unsafe);
            if (next < 0)
            {
                output.Write(value);
                return;
            }

            output.Write(value[..next]);
            var b = value[next];
            // FreeSWITCH leaves an existing upper-case %XX sequence alone.
            if (b == (byte)'%' && next + 2 < value.Length && IsUpperHex(value[next + 1]) && IsUpperHex(value[next + 2]))
            {
                output.Write(value.Slice(next, 3));
                value = value[(next + 3)..];
                continue;
            }

            var span = output.GetSpan(3);
            span[0] = (byte)'%';
            span[1] = HexUpper(b >> 4);
            span[2] = HexUpper(b & 0xF);
            output.Advance(3);
            value = value[(next + 1)..];
        }
    }

    /// <summary>True when the value has nothing that <see cref="Encode(string)"/> would change.</summary>
    public static bool NeedsNoEncoding(ReadOnlySpan<byte> value) => value.IndexOfAny(Unsafe) < 0;

    /// <summary>Decodes <c>%XX</c> escapes to bytes and reads UTF-8; malformed escapes stay literal.</summary>
    public static string Decode(ReadOnlySpan<byte> raw)
    {
        if (raw.IndexOf((byte)'%') < 0)
        {
            return Encoding.UTF8.GetString(raw);
        }

        byte[]? rented = null;
        var buffer = raw.Length <= 512 ? stackalloc byte[raw.Length] : (rented = ArrayPool<byte>.Shared.Rent(raw.Length));
        var length = DecodeBytes(raw, buffer);
        var result = Encoding.UTF8.GetString(buffer[..length]);
        if (rented != null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return result;
    }

    /// <summary>Decodes into <paramref name="destination"/> (at least raw.Length bytes); returns the length.</summary>
    public static int DecodeBytes(ReadOnlySpan<byte> raw, Span<byte> destination)
    {
        var written = 0;
        while (!raw.IsEmpty)
        {
            var pct = raw.IndexOf((byte)'%');
            if (pct < 0)
            {
                raw.CopyTo(destination[written..]);
                return written + raw.Length;
            }

            raw[..pct].CopyTo(destination[written..]);
            written += pct;
            if (pct + 2 < raw.Length && TryHex(raw[pct + 1], out var hi) && TryHex(raw[pct + 2], out var lo))
            {
                destination[written++] = (byte)((hi << 4) | lo);
                raw = raw[(pct + 3)..];
            }
            else
            {
                destination[written++] = (byte)'%';
                raw = raw[(pct + 1)..];
            }
        }

        return written;
    }

    private static bool IsUpperHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'A' and <= (byte)'F';

    private static byte HexUpper(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'A' + nibble - 10);

    private static bool TryHex(byte b, out int value)
    {
        value = b switch
        {
            >= (byte)'0' and <= (byte)'9' => b - '0',
            >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
            >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
            _ => -1,
        };
        return value >= 0;
    }
}
