using System.Collections;
using System.Text;

namespace Redswitch.Protocol.Headers;

/// <summary>
/// An ordered, read-only list of headers. Look-ups are ASCII case-insensitive and return the
/// first of duplicates. Parsed headers keep only offsets into the frame's bytes: a name or
/// value becomes a string only when it is asked for, and short ASCII ones come from a pool.
/// </summary>
public sealed class EslHeaders : IReadOnlyList<EslHeader>
{
    private const string ArrayPrefix = "ARRAY::";
    private const int Stride = 2; // lineStart, lineLength (without LF and trailing CRs)
    private const int EstimateWindow = 16 * 1024;

    private readonly byte[]? _data;
    private readonly int[]? _index;
    private readonly bool _urlDecode;
    private readonly bool _skipTabs;
    private readonly string[]? _names;
    private readonly string[]? _values;

    public static EslHeaders Empty { get; } = new(Array.Empty<string>(), Array.Empty<string>());

    private EslHeaders(byte[] data, int[] index, int count, bool urlDecode, bool skipTabs)
    {
        _data = data;
        _index = index;
        Count = count;
        _urlDecode = urlDecode;
        _skipTabs = skipTabs;
    }

    private EslHeaders(string[] names, string[] values)
    {
        _names = names;
        _values = values;
        Count = names.Length;
    }

    public int Count { get; }

    public EslHeader this[int index]
    {
        get
        {
            if (_names is not null)
            {
                return new(GetName(index), GetValue(index));
            }

            CheckIndex(index);

            // One scan of the line serves both halves.
            var line = Line(index);
            var colon = line.IndexOf((byte)':');
            return new(StringPool.Names.Get(line[..colon]), Materialise(ValueAfter(line, colon)));
        }
    }

    /// <summary>The first value of <paramref name="name"/>, decoded, or null.</summary>
    public string? this[string name] => IndexOf(name) is var i and >= 0 ? GetValue(i) : null;

    /// <summary>Builds headers from values already decoded (JSON events, built messages).</summary>
    public static EslHeaders FromValues(IEnumerable<KeyValuePair<string, string>> headers)
    {
        var list = headers as ICollection<KeyValuePair<string, string>> ?? headers.ToList();
        var names = new string[list.Count];
        var values = new string[list.Count];
        var i = 0;
        foreach (var (name, value) in list)
        {
            names[i] = name;
            values[i] = value;
            i++;
        }

        return new EslHeaders(names, values);
    }

    /// <summary>
    /// Indexes the header lines of <paramref name="data"/>[start, start+length) (the block without
    /// its closing empty line). With <paramref name="strict"/>, a line without ':' is a framing
    /// error; otherwise it is skipped.
    /// </summary>
    internal static EslHeaders Parse(byte[] data, int start, int length, bool urlDecode, bool strict, bool skipTabs) =>
        Parse(data, start, length, urlDecode, strict, skipTabs, stopAtEmptyLine: false, out _);

    /// <summary>
    /// As <see cref="Parse(byte[], int, int, bool, bool, bool)"/>; with <paramref name="stopAtEmptyLine"/>
    /// the block ends at the first empty line, and <paramref name="consumed"/> counts the bytes
    /// up to and including it (so a body search needs no second scan).
    /// </summary>
    internal static EslHeaders Parse(byte[] data, int start, int length, bool urlDecode, bool strict, bool skipTabs, bool stopAtEmptyLine, out int consumed)
    {
        var block = data.AsSpan(start, length);

        // Size the index by the lines that can be headers. Where the block stops at an empty
        // line, the bytes after it (an event's body) must not count: estimate from a bounded
        // prefix and grow if the header block turns out longer.
        var counted = block;
        if (stopAtEmptyLine)
        {
            counted = block[..Math.Min(block.Length, EstimateWindow)];
            var end = counted.IndexOf("\n\n"u8);
            counted = end >= 0 ? counted[..(end + 1)] : counted;
        }

        var lines = counted.Count((byte)'\n') + 1;
        var index = new int[lines * Stride];
        var count = 0;
        var pos = 0;
        while (pos < block.Length)
        {
            var rest = block[pos..];
            var nl = rest.IndexOf((byte)'\n');
            var lineLength = nl < 0 ? rest.Length : nl;
            var line = rest[..lineLength];
            while (!line.IsEmpty && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }

            if (stopAtEmptyLine && line.IsEmpty)
            {
                pos += lineLength + 1;
                break;
            }

            var colon = line.IndexOf((byte)':');
            if (colon < 0)
            {
                if (strict && !line.IsEmpty)
                {
                    throw new EslCodecException(EslCodecError.HeaderLineWithoutColon, $"header line without ':' ({Preview(line)})");
                }
            }
            else
            {
                var o = count * Stride;
                if (o + Stride > index.Length)
                {
                    Array.Resize(ref index, index.Length * 2);
                }

                index[o] = start + pos;
                index[o + 1] = line.Length;
                count++;
            }

            pos += lineLength + 1;
        }

        consumed = Math.Min(pos, length);
        return new EslHeaders(data, index, count, urlDecode, skipTabs);
    }

    internal static string Preview(ReadOnlySpan<byte> line)
    {
        var shown = line.Length > 40 ? line[..40] : line;
        var text = Encoding.UTF8.GetString(shown);
        var clean = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            clean.Append(char.IsControl(c) ? '?' : c);
        }

        return line.Length > 40 ? clean + "…" : clean.ToString();
    }

    public string GetName(int index)
    {
        CheckIndex(index);
        return _names?[index] ?? StringPool.Names.Get(NameSpan(index));
    }

    public string GetValue(int index)
    {
        CheckIndex(index);
        if (_values is not null)
        {
            return _values[index];
        }

        return Materialise(RawValueSpan(index));
    }

    private string Materialise(ReadOnlySpan<byte> raw)
    {
        if (!_urlDecode || raw.IndexOf((byte)'%') < 0)
        {
            return StringPool.Values.Get(raw);
        }

        if (raw.Length > 1024)
        {
            return EslUrlEncoding.Decode(raw);
        }

        Span<byte> decoded = stackalloc byte[raw.Length];
        var length = EslUrlEncoding.DecodeBytes(raw, decoded);
        return StringPool.Values.Get(decoded[..length]);
    }

    /// <summary>The value as it stood on the wire (not URL-decoded).</summary>
    public string GetRawValue(int index)
    {
        CheckIndex(index);
        if (_values is not null)
        {
            return _values[index];
        }

        return Encoding.UTF8.GetString(RawValueSpan(index));
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"there are {Count} headers");
        }
    }

    /// <summary>Index of the first header called <paramref name="name"/> (any case), or -1.</summary>
    public int IndexOf(string name)
    {
        for (var i = 0; i < Count; i++)
        {
            if (NameEquals(i, name))
            {
                return i;
            }
        }

        return -1;
    }

    public bool Contains(string name) => IndexOf(name) >= 0;

    public bool TryGetValue(string name, out string value)
    {
        var i = IndexOf(name);
        value = i >= 0 ? GetValue(i) : string.Empty;
        return i >= 0;
    }

    /// <summary>The first value of <paramref name="name"/> without URL-decoding, or null.</summary>
    public string? GetRaw(string name) => IndexOf(name) is var i and >= 0 ? GetRawValue(i) : null;

    /// <summary>Every value of <paramref name="name"/>, duplicates included, in order.</summary>
    public IEnumerable<string> GetAll(string name)
    {
        for (var i = 0; i < Count; i++)
        {
            if (NameEquals(i, name))
            {
                yield return GetValue(i);
            }
        }
    }

    /// <summary>The items of the first <paramref name="name"/>: <c>ARRAY::a|:b</c> gives a and b.</summary>
    public IReadOnlyList<string> GetValues(string name)
    {
        var value = this[name];
        if (value is null)
        {
            return Array.Empty<string>();
        }

        return value.StartsWith(ArrayPrefix, StringComparison.Ordinal)
            ? value[ArrayPrefix.Length..].Split("|:")
            : new[] { value };
    }

    public Enumerator GetEnumerator() => new(this);

    IEnumerator<EslHeader> IEnumerable<EslHeader>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The first <paramref name="count"/> headers, sharing this list's storage.</summary>
    internal EslHeaders Take(int count) => _names is not null
        ? new EslHeaders(_names[..count], _values![..count])
        : new EslHeaders(_data!, _index!, count, _urlDecode, _skipTabs);

    internal bool NameIs(int index, string name) => NameEquals(index, name);

    internal ReadOnlySpan<byte> NameSpan(int index)
    {
        var line = Line(index);
        return line[..line.IndexOf((byte)':')];
    }

    internal ReadOnlySpan<byte> RawValueSpan(int index)
    {
        var line = Line(index);
        return ValueAfter(line, line.IndexOf((byte)':'));
    }

    private ReadOnlySpan<byte> ValueAfter(ReadOnlySpan<byte> line, int colon)
    {
        var start = colon + 1;
        while (start < line.Length && (line[start] == (byte)' ' || (_skipTabs && line[start] == (byte)'\t')))
        {
            start++;
        }

        return line[start..];
    }

    private ReadOnlySpan<byte> Line(int index) => _data.AsSpan(_index![index * Stride], _index[(index * Stride) + 1]);

    private bool NameEquals(int index, string name)
    {
        if (_names is not null)
        {
            return string.Equals(_names[index], name, StringComparison.OrdinalIgnoreCase);
        }

        // A parsed name ends at its line's first ':', so a name holding ':' matches nothing.
        var line = Line(index);
        if (Ascii.IsValid(name))
        {
            return line.Length > name.Length && line[name.Length] == (byte)':' && Ascii.EqualsIgnoreCase(line[..name.Length], name)
                && name.IndexOf(':') < 0;
        }

        var n = Encoding.UTF8.GetByteCount(name);
        if (n >= line.Length)
        {
            return false;
        }

        Span<byte> utf8 = n <= 256 ? stackalloc byte[n] : new byte[n];
        Encoding.UTF8.GetBytes(name, utf8);
        return line.Length > n && line[n] == (byte)':' && line[..n].IndexOf((byte)':') < 0 && EqualsAsciiIgnoreCase(line[..n], utf8[..n]);
    }

    /// <summary>Byte equality that folds case for ASCII letters only (names are UTF-8 bytes).</summary>
    private static bool EqualsAsciiIgnoreCase(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i] && ((a[i] | 0x20) != (b[i] | 0x20) || (a[i] | 0x20) is < (byte)'a' or > (byte)'z'))
            {
                return false;
            }
        }

        return true;
    }

    public struct Enumerator : IEnumerator<EslHeader>
    {
        private readonly EslHeaders _headers;
        private int _position;

        internal Enumerator(EslHeaders headers)
        {
            _headers = headers;
            _position = -1;
        }

        public readonly EslHeader Current => _headers[_position];

        readonly object IEnumerator.Current => Current;

        public bool MoveNext() => ++_position < _headers.Count;

        public void Reset() => _position = -1;

        public readonly void Dispose()
        {
        }
    }
}
