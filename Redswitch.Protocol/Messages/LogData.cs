using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>A log line streamed after <c>log &lt;level&gt;</c>.</summary>
public sealed class LogData : EslMessage
{
    internal LogData(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength)
        : base(frame, headers, bodyOffset, bodyLength)
    {
    }

    public int? Level => int.TryParse(Headers[HeaderNames.LogLevel], out var level) ? level : null;
}
