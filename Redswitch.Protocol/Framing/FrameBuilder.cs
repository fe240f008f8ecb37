using System.Buffers;
using System.Globalization;
using System.Text;
using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Framing;

/// <summary>Writes header lines and a body into one byte array, exactly as given.</summary>
internal sealed class FrameBuilder
{
    private readonly ArrayBufferWriter<byte> _out;

    public FrameBuilder(int capacity = 256)
    {
        _out = new ArrayBufferWriter<byte>(capacity);
    }

    public int Length => _out.WrittenCount;

    public ReadOnlySpan<byte> Written => _out.WrittenSpan;

    public FrameBuilder Line(string text)
    {
        WriteUtf8(text);
        WriteByte((byte)'\n');
        return this;
    }

    public FrameBuilder Header(string name, string value, bool urlEncode = false)
    {
        if (name.Length == 0 || name.AsSpan().IndexOfAny(":\r\n") >= 0)
        {
            throw new ArgumentException($"header name '{name}' is empty or contains ':', CR or LF", nameof(name));
        }

        if (!urlEncode && value.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new ArgumentException($"header {name}: a value written unencoded cannot contain CR or LF", nameof(value));
        }

        WriteUtf8(name);
        WriteByte((byte)':');
        WriteByte((byte)' ');
        if (urlEncode)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            EslUrlEncoding.Encode(bytes, _out);
        }
        else
        {
            WriteUtf8(value);
        }

        WriteByte((byte)'\n');
        return this;
    }

    public FrameBuilder Header(string name, long value) => Header(name, value.ToString(CultureInfo.InvariantCulture));

    public FrameBuilder EndHeaders()
    {
        WriteByte((byte)'\n');
        return this;
    }

    public FrameBuilder Raw(ReadOnlySpan<byte> bytes)
    {
        _out.Write(bytes);
        return this;
    }

    public byte[] ToArray() => _out.WrittenSpan.ToArray();

    private void WriteUtf8(string text)
    {
        var span = _out.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        _out.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private void WriteByte(byte b)
    {
        _out.GetSpan(1)[0] = b;
        _out.Advance(1);
    }
}
