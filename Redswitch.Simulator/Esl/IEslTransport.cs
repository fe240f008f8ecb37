using Redswitch.Simulator.Core;

namespace Redswitch.Simulator.Esl;

/// <summary>What an ESL session writes; implemented over a DotNetty channel. Called on the switch's core thread only.</summary>
public interface IEslTransport
{
    void AuthRequest();
    void Reply(string text, IReadOnlyList<KeyValuePair<string, string>>? extraHeaders = null);
    void Api(string body);
    void Event(SimEvent ev, EventFormat format);
    void ConnectReply(List<KeyValuePair<string, string>> channelData, string socketMode, string control);
    /// <summary>The 67-byte goodbye notice; bound form when <paramref name="boundUuid"/> is set.</summary>
    void Goodbye(string? boundUuid);
    void Linger(string uuid, string channelName, int lingerTime);
    void Close();
    string Peer { get; }
}

public enum EventFormat { Plain, Json, Xml }

/// <summary>A command received from the client (first line, headers in order, optional body).</summary>
public sealed record EslRequest(string Line, IReadOnlyList<KeyValuePair<string, string>> Headers, string? Body)
{
    public string? Header(string name)
    {
        foreach (var h in Headers)
            if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)) return h.Value;
        return null;
    }
}

/// <summary>A parsed <c>sendmsg</c>.</summary>
public sealed record SendMsg(
    string CallCommand,
    string? AppName,
    string? AppArg,
    bool EventLock,
    string? EventUuid,
    string? EventUuidName,
    string? HangupCause,
    int Loops,
    IReadOnlyList<KeyValuePair<string, string>> Headers);
