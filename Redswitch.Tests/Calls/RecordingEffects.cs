using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;

namespace Redswitch.Tests.Calls;

/// <summary>One effect the machine asked for, in the order asked.</summary>
public abstract record Effect;
public sealed record Published(CallEvent Event) : Effect;
public sealed record Replied(ControlReply Reply) : Effect;
public sealed record StateSaved(IReadOnlyList<(string Field, string Value)> Fields) : Effect;
public sealed record StateDeleted : Effect;
public sealed record SocketSent(SocketCommand Command, long Correlation, bool WentOut) : Effect;
public sealed record ApiSent(FsCommand Command, long Correlation, bool PreferSocket, bool WentOut, bool ViaSocket) : Effect;
public sealed record BgApiSent(Originate Command, long Correlation, bool WentOut) : Effect;
public sealed record Followed(string Uuid) : Effect;
public sealed record Unfollowed(string Uuid) : Effect;
public sealed record Claimed(string Uuid) : Effect;
public sealed record Unclaimed(string Uuid) : Effect;
public sealed record TimerSet(CallTimer Timer, TimeSpan After) : Effect;
public sealed record TimerCancelled(CallTimer Timer) : Effect;
public sealed record Settled(JobSettlement Settlement) : Effect;
public sealed record EndedWith(CallSummary Summary) : Effect;
public sealed record Released : Effect;
public sealed record Logged(CallLogLevel Level, string Template) : Effect;

/// <summary>A command that went out and whose reply the machine waits for (correlation != 0).</summary>
public sealed record Outstanding(object Command, long Correlation, bool ViaSocket)
{
    public override string ToString() => $"{Command} #{Correlation}{(ViaSocket ? " (socket)" : "")}";
}

/// <summary>
/// An <see cref="ICallEffects"/> that records every effect in order. Sends succeed as configured
/// (<see cref="SocketOpen"/>, <see cref="LinkUp"/>); what went out with a correlation is kept until the test replies;
/// timers are armed and disarmed as the machine asks, so a test can fire only armed ones.
/// </summary>
public sealed class RecordingEffects : ICallEffects
{
    private readonly List<Effect> _all = [];
    private readonly List<Outstanding> _replies = [];
    private readonly List<Outstanding> _jobs = [];
    private readonly Dictionary<CallTimer, TimeSpan> _timers = [];

    /// <summary>The caller's outbound socket is open: SendOnSocket (and api preferring the socket) goes out.</summary>
    public bool SocketOpen { get; set; }

    /// <summary>The control link is up: api and bgapi go out on it.</summary>
    public bool LinkUp { get; set; } = true;

    public IReadOnlyList<Effect> All => _all;
    public IEnumerable<CallEvent> Events => _all.OfType<Published>().Select(p => p.Event);
    public IEnumerable<ControlReply> Replies => _all.OfType<Replied>().Select(r => r.Reply);
    public IEnumerable<FsCommand> ApiCommands => _all.OfType<ApiSent>().Where(a => a.WentOut).Select(a => a.Command);
    public IEnumerable<SocketCommand> SocketCommands => _all.OfType<SocketSent>().Where(s => s.WentOut).Select(s => s.Command);
    public IEnumerable<JobSettlement> Settlements => _all.OfType<Settled>().Select(s => s.Settlement);
    public IEnumerable<CallSummary> Endings => _all.OfType<EndedWith>().Select(e => e.Summary);

    /// <summary>Commands waiting for their reply, oldest first.</summary>
    public IReadOnlyList<Outstanding> AwaitingReply => _replies;

    /// <summary>Originates waiting for their BACKGROUND_JOB, oldest first.</summary>
    public IReadOnlyList<Outstanding> AwaitingJob => _jobs;

    public IReadOnlyCollection<CallTimer> ArmedTimers => _timers.Keys;
    public bool IsArmed(CallTimer timer) => _timers.ContainsKey(timer);
    public TimeSpan ArmedFor(CallTimer timer) => _timers[timer];

    /// <summary>Effects recorded from <paramref name="mark"/> on (a mark is <c>All.Count</c> taken earlier).</summary>
    public IReadOnlyList<Effect> Since(int mark) => _all.Skip(mark).ToList();

    internal Outstanding TakeReply(Func<Outstanding, bool> match, string what)
    {
        var i = _replies.FindIndex(o => match(o));
        if (i < 0) throw new AssertionException($"no outstanding {what}; outstanding: [{string.Join(", ", _replies)}]");
        var o = _replies[i];
        _replies.RemoveAt(i);
        return o;
    }

    internal Outstanding TakeJob(Func<Outstanding, bool> match, string what)
    {
        var i = _jobs.FindIndex(o => match(o));
        if (i < 0) throw new AssertionException($"no outstanding BACKGROUND_JOB for {what}; outstanding: [{string.Join(", ", _jobs)}]");
        var o = _jobs[i];
        _jobs.RemoveAt(i);
        return o;
    }

    internal void Disarm(CallTimer timer)
    {
        if (!_timers.Remove(timer)) throw new AssertionException($"timer {timer} is not armed; armed: [{string.Join(", ", _timers.Keys)}]");
    }

    /// <summary>The control link is gone: the BACKGROUND_JOBs it would have brought never come.</summary>
    public void ForgetJobs() => _jobs.Clear();

    public void Publish(CallEvent evt) => _all.Add(new Published(evt));

    public void Reply(ControlReply reply) => _all.Add(new Replied(reply));

    public void SaveState(IReadOnlyList<(string Field, string Value)> fields) => _all.Add(new StateSaved([.. fields]));

    public void DeleteState() => _all.Add(new StateDeleted());

    public bool SendOnSocket(SocketCommand command, long correlation = 0)
    {
        var ok = SocketOpen;
        _all.Add(new SocketSent(command, correlation, ok));
        if (ok && correlation != 0) _replies.Add(new Outstanding(command, correlation, ViaSocket: true));
        return ok;
    }

    public bool SendApi(FsCommand command, long correlation, bool preferSocket = false)
    {
        var viaSocket = preferSocket && SocketOpen;
        var ok = viaSocket || LinkUp;
        _all.Add(new ApiSent(command, correlation, preferSocket, ok, viaSocket));
        if (ok && correlation != 0) _replies.Add(new Outstanding(command, correlation, viaSocket));
        return ok;
    }

    public bool SendBgApi(Originate command, long correlation)
    {
        var ok = LinkUp;
        _all.Add(new BgApiSent(command, correlation, ok));
        if (ok)
        {
            _replies.Add(new Outstanding(command, correlation, ViaSocket: false));
            _jobs.Add(new Outstanding(command, correlation, ViaSocket: false));
        }
        return ok;
    }

    public void Follow(string uuid) => _all.Add(new Followed(uuid));

    public void Unfollow(string uuid) => _all.Add(new Unfollowed(uuid));

    public void Claim(string uuid) => _all.Add(new Claimed(uuid));

    public void Unclaim(string uuid) => _all.Add(new Unclaimed(uuid));

    public void SetTimer(CallTimer timer, TimeSpan after)
    {
        _all.Add(new TimerSet(timer, after));
        _timers[timer] = after;
    }

    public void CancelTimer(CallTimer timer)
    {
        _all.Add(new TimerCancelled(timer));
        _timers.Remove(timer);
    }

    public void Settle(JobSettlement settlement) => _all.Add(new Settled(settlement));

    public void Ended(CallSummary summary) => _all.Add(new EndedWith(summary));

    public void Release() => _all.Add(new Released());

    public void Log(CallLogLevel level, string template, params object?[] args) => _all.Add(new Logged(level, template));

    /// <summary>Uuids followed and not unfollowed since (in the order of the effects).</summary>
    public IReadOnlySet<string> StillFollowed() => Balance<Followed, Unfollowed>(f => f.Uuid, u => u.Uuid);

    /// <summary>Uuids claimed and not unclaimed since.</summary>
    public IReadOnlySet<string> StillClaimed() => Balance<Claimed, Unclaimed>(c => c.Uuid, u => u.Uuid);

    private HashSet<string> Balance<TOn, TOff>(Func<TOn, string> on, Func<TOff, string> off)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in _all)
        {
            if (e is TOn a) set.Add(on(a));
            else if (e is TOff b) set.Remove(off(b));
        }
        return set;
    }
}
