using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Protocol.Messages;

namespace Redswitch.Server.Esl;

/// <summary>
/// The one place that reads FreeSWITCH's words: replies, BACKGROUND_JOB bodies, channel events and <c>status</c>
/// become typed values for the call logic. No other file matches FreeSWITCH reply text.
/// </summary>
public static class FsReplies
{
    /// <summary>The reply to <paramref name="command"/> (null when it is a sendmsg or bgapi); a null reply means the connection closed first.</summary>
    public static FsReply Classify(FsCommand? command, EslMessage? reply)
    {
        switch (reply)
        {
            case null:
                return FsReply.Lost;
            case CommandReply c:
                return c.IsOk ? new FsReply(FsOutcome.Accepted, c.ReplyText.Trim()) : FsReply.Refused(c.ReplyText.Trim());
            case ApiResponse a:
                var text = a.BodyText.Trim();
                if (command is UuidExists)
                    return text switch
                    {
                        "true" => new FsReply(FsOutcome.Accepted, text),
                        "false" => new FsReply(FsOutcome.NoSuchChannel, text),
                        _ => FsReply.Refused(text),
                    };
                // A dump is the channel's data; its Answer-State is what the call needs of it.
                if (command is UuidDump && AnswerState(text) is { Length: > 0 } state) return new FsReply(FsOutcome.Accepted, state);
                if (a.IsOk) return new FsReply(FsOutcome.Accepted, text);
                // "-ERR No such channel!" (uuid_kill, uuid_dump, uuid_recv_dtmf on a channel that is gone)
                if (text.Contains("No such channel", StringComparison.OrdinalIgnoreCase)) return new FsReply(FsOutcome.NoSuchChannel, text);
                return FsReply.Refused(text);
            default:
                return FsReply.Refused(reply.ToString() ?? "error");
        }
    }

    /// <summary>The <c>Answer-State</c> line of a uuid_dump (plain format: <c>Name: value</c>, URL-encoded values).</summary>
    public static string AnswerState(string dump)
    {
        const string name = "Answer-State: ";
        var at = dump.StartsWith(name, StringComparison.Ordinal) ? 0 : dump.IndexOf("\n" + name, StringComparison.Ordinal) is var i and >= 0 ? i + 1 : -1;
        if (at < 0) return "";
        var start = at + name.Length;
        var end = dump.IndexOf('\n', start);
        return Uri.UnescapeDataString((end < 0 ? dump[start..] : dump[start..end]).Trim());
    }

    /// <summary>A BACKGROUND_JOB body of an originate: "+OK uuid", "-ERR USER_BUSY" (a hangup cause), or another error.</summary>
    public static FsJobResult JobResult(string? body)
    {
        var text = body?.Trim() ?? "";
        if (text.StartsWith("+OK", StringComparison.Ordinal)) return new FsJobResult(FsJobOutcome.Answered, text);
        if (text.StartsWith("-ERR ", StringComparison.Ordinal) && text[5..].Trim() is var name && HangupCauses.IsCause(name))
            return new FsJobResult(FsJobOutcome.HungUp, name);
        return new FsJobResult(FsJobOutcome.Failed, text);
    }

    /// <summary>A channel event as the call machine needs it; null when it names no channel.</summary>
    public static LegEvent? LegEvent(EslEvent evt, bool fromSocket)
    {
        if (evt.UniqueId is not { } uuid) return null;
        switch (evt.EventName)
        {
            case "CHANNEL_CREATE":
            case "CHANNEL_PROGRESS":
            case "CHANNEL_PROGRESS_MEDIA":
            case "CHANNEL_EXECUTE":
            case "CHANNEL_BRIDGE":
            case "CHANNEL_UNBRIDGE":
                return new LegEvent(uuid, LegEventKind.Exists, fromSocket);
            case "CHANNEL_ANSWER":
                return new LegEvent(uuid, LegEventKind.Answer, fromSocket);
            case "CHANNEL_HANGUP":
                return new LegEvent(uuid, LegEventKind.Hangup, fromSocket) { Cause = NonEmpty(evt["Hangup-Cause"]) };
            case "CHANNEL_HANGUP_COMPLETE":
                return new LegEvent(uuid, LegEventKind.HangupComplete, fromSocket)
                {
                    Cause = NonEmpty(evt["Hangup-Cause"]),
                    OriginateFailedCause = NonEmpty(evt["variable_originate_failed_cause"]),
                    // only the control link can have missed the answer (a channel event carries ~200 headers: read what is used)
                    HadAnswered = !fromSocket && evt["Caller-Channel-Answered-Time"] is { } t && t != "0",
                };
            case "CHANNEL_EXECUTE_COMPLETE":
                // Every application of the caller's leg ends with one; only the bridge's says how the callee went.
                if (evt["Application"] != "bridge") return new LegEvent(uuid, LegEventKind.ExecuteComplete, fromSocket);
                return new LegEvent(uuid, LegEventKind.ExecuteComplete, fromSocket)
                {
                    BridgeEnded = true,
                    Cause = NonEmpty(evt["Hangup-Cause"]),
                    OriginateFailedCause = NonEmpty(evt["variable_originate_failed_cause"]),
                };
            case "DTMF":
                return new LegEvent(uuid, LegEventKind.Dtmf, fromSocket)
                {
                    Digit = evt["DTMF-Digit"] is [var d and >= '0' and <= '9'] ? d - '0' : null,
                    DigitFromApp = evt["DTMF-Source"] == "APP",
                };
            default:
                return new LegEvent(uuid, LegEventKind.Other, fromSocket);
        }
    }

    /// <summary>An empty header is no value (a cause goes into a uuid_kill line).</summary>
    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
