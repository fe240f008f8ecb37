using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Redswitch.Protocol.Headers;

/// <summary>
/// A lossy, lock-free pool of short ASCII strings keyed by their bytes. Header names, and most
/// header values of a call (its uuids, numbers, variables, codec names), repeat from event to
/// event, so looking them up here saves allocating the same string again and again.
/// A slot holds one immutable string; a racing writer only replaces it, never tears it.
/// </summary>
internal sealed class StringPool
{
    private const int MaxPooledLength = 64;

    private readonly string?[] _slots;
    private readonly int _mask;

    public StringPool(int capacity)
    {
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)capacity);
        _slots = new string?[size];
        _mask = size - 1;
    }

    /// <summary>Names repeat across every event; values mostly within one call.</summary>
    public static StringPool Names { get; } = new(4096);

    public static StringPool Values { get; } = new(16384);

    /// <summary>The string for these bytes read as UTF-8, shared when they are short ASCII.</summary>
    public string Get(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return string.Empty;
        }

        if (bytes.Length > MaxPooledLength)
        {
            return Encoding.UTF8.GetString(bytes);
        }

        var slot = (int)Hash(bytes) & _mask;
        var pooled = Volatile.Read(ref _slots[slot]);
        if (pooled is not null && pooled.Length == bytes.Length && System.Text.Ascii.Equals(bytes, pooled))
        {
            return pooled;
        }

        if (!System.Text.Ascii.IsValid(bytes))
        {
            return Encoding.UTF8.GetString(bytes);
        }

        var created = Encoding.Latin1.GetString(bytes);
        Volatile.Write(ref _slots[slot], created);
        return created;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Hash(ReadOnlySpan<byte> bytes)
    {
        ulong h = (ulong)bytes.Length * 0x9E3779B97F4A7C15UL;
        ref var start = ref MemoryMarshal.GetReference(bytes);
        var i = 0;
        for (; i + 8 <= bytes.Length; i += 8)
        {
            h = (h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i))) * 0xFF51AFD7ED558CCDUL;
            h ^= h >> 29;
        }

        ulong tail = 0;
        for (var shift = 0; i < bytes.Length; i++, shift += 8)
        {
            tail |= (ulong)Unsafe.Add(ref start, i) << shift;
        }

        h = (h ^ tail) * 0xC4CEB9FE1A85EC53UL;
        return (uint)(h ^ (h >> 32));
    }
}
