namespace Redswitch.Calls;

/// <summary>Where the call is as a whole.</summary>
public enum CallPhase
{
    New,
    /// <summary>The caller's originate is out; FreeSWITCH has not taken it yet (or its reply was lost).</summary>
    Originating,
    /// <summary>call-start is published.</summary>
    Started,
    Ended,
}

/// <summary>The caller's outbound socket.</summary>
public enum SocketState
{
    /// <summary>Not due yet (the caller has not answered).</summary>
    NotExpected,
    /// <summary>Due: the caller answered, the late timer runs.</summary>
    Expected,
    /// <summary>Late: the caller is followed on the control link; the give-up timer runs.</summary>
    Late,
    /// <summary>Never came: the caller was hung up.</summary>
    GaveUp,
    Connected,
    /// <summary>Every side ended but not every channel: <c>exit</c> goes out when they have, or after SOCKET_LINGER.</summary>
    Lingering,
    /// <summary><c>exit</c> sent.</summary>
    Exiting,
    Closed,
}

/// <summary>A hangup asked of the call (by a control message or a drain).</summary>
public enum HangupRequest
{
    None,
    /// <summary>Asked before FreeSWITCH took the originate: carried out once it has.</summary>
    AwaitingStart,
    Requested,
}
