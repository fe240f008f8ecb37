using System.Globalization;

namespace Redswitch.Simulator.Core;

/// <summary>One simulated FreeSWITCH session (a call leg). Only touched on the switch's core thread.</summary>
public sealed class Channel
{
    internal Channel(string uuid, string name, string number, string endpointType, long sessionId)
    {
        Uuid = uuid;
        Name = name;
        Number = number;
        EndpointType = endpointType;
        SessionId = sessionId;
    }

    public string Uuid { get; }
    public string Name { get; }
    public string Number { get; }
    public string EndpointType { get; }
    public long SessionId { get; }
    public OrderedVars Vars { get; } = new();

    // caller profile
    public string Direction { get; set; } = "outbound";
    public string LogicalDirection { get; set; } = "outbound";
    public string Dialplan { get; set; } = "xml";
    public string? CallerIdName { get; set; }
    public string? CallerIdNumber { get; set; }
    public string? OrigCallerIdName { get; set; }
    public string? OrigCallerIdNumber { get; set; }
    public string? CalleeIdName { get; set; }
    public string? CalleeIdNumber { get; set; }
    public string? Ani { get; set; }
    public string? DestinationNumber { get; set; }
    public string Source { get; set; } = "mod_sofia";
    public string? Context { get; set; }

    // times, µs since the epoch (0 = unset)
    public long CreatedTime { get; set; }
    public long AnsweredTime { get; set; }
    public long ProgressTime { get; set; }
    public long ProgressMediaTime { get; set; }
    public long HangupTime { get; set; }
    public long BridgedTime { get; set; }

    // state
    public string RunningState { get; set; } = "CS_NEW";
    public int StateNumber { get; set; }
    public string CallState { get; set; } = "DOWN";
    public bool IsAnswered => AnsweredTime != 0;
    public bool HitDialplan { get; set; }
    public string? HangupCause { get; internal set; }
    public bool IsHungUp => HangupCause != null;
    public bool Destroyed { get; internal set; }

    /// <summary>"originator" (this leg was made by another) or "originatee" (this leg made the other), or null.</summary>
    public string? OtherType { get; set; }
    public Channel? OtherLeg { get; set; }
    internal bool OtherLegZeroTimes;
    internal List<KeyValuePair<string, string>>? OtherLegSnapshot;

    /// <summary>The bridged partner while a bridge is up.</summary>
    public Channel? BridgedTo { get; internal set; }
    internal bool BridgeInitiator;
    internal bool EndingBridge;

    /// <summary>Eavesdrop mode of this channel when it is eavesdropping (listen, other, target, both), else null.</summary>
    public string? EavesdropMode { get; internal set; }
    public string? EavesdropTarget { get; internal set; }

    // applications
    internal readonly List<AppFrame> Apps = new();
    internal readonly Queue<QueuedApp> AppQueue = new();
    internal readonly List<Esl.EslSession> Sessions = new();
    internal Action? OnAnsweredByPhone;
    internal Action<string>? OnFailedBeforeAnswer;
    internal ITimerHandle? PhoneTimer;
    internal ITimerHandle? RingTimer;
    internal PhoneBehaviour? Behaviour;
    internal bool RunsDialplan;
    internal AppFrame? BridgeFrame;
    internal AppFrame? EavesdropFrame;
    internal readonly List<Channel> Eavesdroppers = new();
    internal string DigitsDialed = "";
    /// <summary>Applications still to run from this leg's dialplan extension (the phone side of a loopback call).</summary>
    internal Queue<(string App, string? Data)>? DialplanSteps;
    /// <summary>The other half of a loopback call (<c>loopback/N-a</c> and <c>loopback/N-b</c>): answer, ringing and
    /// hangup cross from one half to the other.</summary>
    internal Channel? LoopbackPeer;
    /// <summary>This is the <c>-b</c> half of a loopback call: it runs the dialled phone's extension.</summary>
    internal bool IsLoopbackB;
    internal string? LastApp;
    internal string? LastArg;

    public static string StateName(int n) => n switch
    {
        0 => "CS_NEW", 1 => "CS_INIT", 2 => "CS_ROUTING", 3 => "CS_SOFT_EXECUTE", 4 => "CS_EXECUTE",
        5 => "CS_EXCHANGE_MEDIA", 6 => "CS_PARK", 7 => "CS_CONSUME_MEDIA", 8 => "CS_HIBERNATE", 9 => "CS_RESET",
        10 => "CS_HANGUP", 11 => "CS_REPORTING", _ => "CS_DESTROY",
    };

    public string AnswerState => IsHungUp ? "hangup" : IsAnswered ? "answered" : ProgressMediaTime != 0 ? "early" : "ringing";

    /// <summary>Adds the channel data block (esl-protocol.md §5.2), and the variables when <paramref name="withVars"/>.</summary>
    internal void AddChannelData(List<KeyValuePair<string, string>> h, bool withVars)
    {
        void Add(string k, string? v) { if (!string.IsNullOrEmpty(v)) h.Add(new(k, v)); }
        Add("Channel-State", RunningState);
        Add("Channel-Call-State", CallState);
        Add("Channel-State-Number", StateNumber.ToString(CultureInfo.InvariantCulture));
        Add("Channel-Name", Name);
        Add("Unique-ID", Uuid);
        Add("Call-Direction", Direction);
        Add("Presence-Call-Direction", Direction);
        Add("Channel-HIT-Dialplan", HitDialplan ? "true" : "false");
        Add("Channel-Call-UUID", Vars.Get("call_uuid") ?? Uuid);
        Add("Answer-State", AnswerState);
        if (IsHungUp) Add("Hangup-Cause", HangupCause);
        Add("Channel-Read-Codec-Name", "L16");
        Add("Channel-Read-Codec-Rate", "8000");
        Add("Channel-Read-Codec-Bit-Rate", "128000");
        Add("Channel-Write-Codec-Name", "L16");
        Add("Channel-Write-Codec-Rate", "8000");
        Add("Channel-Write-Codec-Bit-Rate", "128000");
        AddProfile(h, "Caller-", zeroTimes: false, withIndex: true);
        if (OtherType != null && OtherLeg != null)
        {
            Add("Other-Type", OtherType);
            if (OtherLegSnapshot != null) h.AddRange(OtherLegSnapshot);
            else OtherLeg.AddProfile(h, "Other-Leg-", OtherLegZeroTimes, withIndex: false, logicalInbound: true);
        }
        if (withVars)
            foreach (var kv in Vars.Items) Add("variable_" + kv.Key, kv.Value);
    }

    internal void AddProfile(List<KeyValuePair<string, string>> h, string p, bool zeroTimes, bool withIndex, bool logicalInbound = false)
    {
        void Add(string k, string? v) { if (!string.IsNullOrEmpty(v)) h.Add(new(p + k, v)); }
        string T(long t) => zeroTimes ? "0" : t.ToString(CultureInfo.InvariantCulture);
        Add("Direction", Direction);
        Add("Logical-Direction", logicalInbound ? "inbound" : LogicalDirection);
        Add("Dialplan", Dialplan);
        Add("Caller-ID-Name", CallerIdName);
        Add("Caller-ID-Number", CallerIdNumber);
        Add("Orig-Caller-ID-Name", OrigCallerIdName);
        Add("Orig-Caller-ID-Number", OrigCallerIdNumber);
        Add("Callee-ID-Name", CalleeIdName);
        Add("Callee-ID-Number", CalleeIdNumber);
        Add("ANI", Ani);
        Add("Destination-Number", DestinationNumber);
        Add("Unique-ID", Uuid);
        Add("Source", Source);
        Add("Context", Context);
        Add("Channel-Name", Name);
        if (withIndex) Add("Profile-Index", "1");
        Add("Profile-Created-Time", T(CreatedTime));
        Add("Channel-Created-Time", T(CreatedTime));
        Add("Channel-Answered-Time", T(AnsweredTime));
        Add("Channel-Progress-Time", T(ProgressTime));
        Add("Channel-Progress-Media-Time", T(ProgressMediaTime));
        Add("Channel-Hangup-Time", T(HangupTime));
        Add("Channel-Transfer-Time", "0");
        Add("Channel-Resurrect-Time", "0");
        Add("Channel-Bridged-Time", T(BridgedTime));
        Add("Channel-Last-Hold", "0");
        Add("Channel-Hold-Accum", "0");
        Add("Screen-Bit", "true");
        Add("Privacy-Hide-Name", "false");
        Add("Privacy-Hide-Number", "false");
    }
}

/// <summary>An application running on a channel.</summary>
internal sealed class AppFrame
{
    public required string Name { get; init; }
    public string? Data { get; init; }
    public required string AppUuid { get; init; }
    public string? AppUuidName { get; init; }
    public bool EventLock { get; init; }
    public bool Completed { get; set; }
    public string Response { get; set; } = "_none_";
    /// <summary>Called when the channel goes down while the app runs (to end it).</summary>
    public Action? OnHangup { get; set; }
    public Action? OnComplete { get; set; }
    public ITimerHandle? Timer { get; set; }
    public bool IsSocketPark { get; set; }
    public bool ListenerGone { get; set; }
    public bool Queued { get; set; }
    public bool ParkScheduled { get; set; }
    public int Loop { get; init; } = 1;
    public long Started { get; init; }
    public Esl.EslSession? SocketSession { get; set; }
    public bool Parked { get; set; }
    public Esl.SendMsg? Source { get; init; }
}

internal sealed record QueuedApp(string Name, string? Data, string? AppUuid, string? AppUuidName, bool EventLock, Esl.SendMsg? Source);
