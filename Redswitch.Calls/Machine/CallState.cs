using System.Globalization;

namespace Redswitch.Calls;

/// <summary>
/// The fields of a call's state hash <c>redswitch.call.{dial_id}</c> (SPEC §8.1): who owns the call, where it runs,
/// its legs, which events went out, the barge leg and its confirmed mode, and when it ended. The owner writes them
/// as the call changes; whoever takes the call over reads them back as a <see cref="CallSnapshot"/>.
/// </summary>
public static class CallState
{
    public const string Owner = "owner";
    /// <summary>The owner of a call its instance let go of for a peer to claim at once (SPEC §8.1 "Release").</summary>
    public const string Released = "released";
    public const string Epoch = "epoch";
    /// <summary>The FreeSWITCH node's ESL address, and its Core-UUID when the call was placed.</summary>
    public const string Node = "node";
    public const string Core = "core";
    /// <summary>The job as it was taken (a claimer re-reads dial strings and the processing-list entry from it).</summary>
    public const string Job = "job";
    public const string OrgId = "org_id";
    public const string UserId = "user_id";
    /// <summary>Unix ms when the job was taken (for an operator's list of calls: its age).</summary>
    public const string TakenAt = "taken_at";
    public const string CallerUuid = "uuid_0";
    public const string CalleeUuid = "uuid_1";
    /// <summary>The current (or last) barge leg.</summary>
    public const string BargeUuid = "uuid_2";
    /// <summary>The uuid the next barge leg will get (its filter is already on the socket).</summary>
    public const string NextBargeUuid = "barge_next";
    /// <summary>The barge leg's eavesdrop mode as FreeSWITCH confirmed it, and the mode before three-way.</summary>
    public const string Mode = "mode";
    public const string ModeBefore = "mode_before";
    /// <summary>Unix ms when the last leg ended; the grace runs from here.</summary>
    public const string EndedAt = "ended_at";
    /// <summary>call-start went out (set by the publishing script itself, so it cannot disagree with the channel).</summary>
    public const string Started = "ev.start";

    /// <summary>The side's answer-event went out (set by the publishing script).</summary>
    public static string Answered(int side) => side switch { 0 => "ev.answer.0", 1 => "ev.answer.1", 2 => "ev.answer.2", _ => "ev.answer." + side };

    /// <summary>The side's hangup-event went out (set by the publishing script).</summary>
    public static string HungUp(int side) => side switch { 0 => "ev.hangup.0", 1 => "ev.hangup.1", 2 => "ev.hangup.2", _ => "ev.hangup." + side };

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>What the state hash says of a call, as a take-over reads it.</summary>
public sealed record CallSnapshot(
    string CallerUuid,
    string CalleeUuid,
    string NextBargeUuid,
    string? BargeUuid,
    bool Started,
    bool[] Answered,
    bool[] HungUp,
    int Mode,
    int ModeBefore,
    long? EndedAt)
{
    /// <summary>Null when the hash lacks what a call needs (its legs).</summary>
    public static CallSnapshot? From(IReadOnlyDictionary<string, string> f)
    {
        if (!f.TryGetValue(CallState.CallerUuid, out var a) || !f.TryGetValue(CallState.CalleeUuid, out var b) || a.Length == 0 || b.Length == 0) return null;
        bool Set(string name) => f.TryGetValue(name, out var v) && v.Length > 0 && v != "0";
        int Int(string name) => f.TryGetValue(name, out var v) && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
        return new CallSnapshot(a, b,
            f.TryGetValue(CallState.NextBargeUuid, out var next) && next.Length > 0 ? next : Guid.NewGuid().ToString(),
            f.TryGetValue(CallState.BargeUuid, out var g) && g.Length > 0 ? g : null,
            Set(CallState.Started),
            [Set(CallState.Answered(0)), Set(CallState.Answered(1)), Set(CallState.Answered(2))],
            [Set(CallState.HungUp(0)), Set(CallState.HungUp(1)), Set(CallState.HungUp(2))],
            Int(CallState.Mode), Int(CallState.ModeBefore),
            f.TryGetValue(CallState.EndedAt, out var e) && long.TryParse(e, NumberStyles.Integer, CultureInfo.InvariantCulture, out var at) ? at : null);
    }
}
