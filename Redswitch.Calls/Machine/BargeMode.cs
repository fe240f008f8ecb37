namespace Redswitch.Calls;

/// <summary>
/// The barger's eavesdrop mode (SPEC §5: the DTMF digit FreeSWITCH's eavesdrop takes; 0 listen, 2 whisper,
/// 3 three-way) as FreeSWITCH has it, and as it will be once the changes in flight are taken. A refused change
/// leaves no trace: the intended mode is always the confirmed one with the remaining changes replayed in order.
/// Not thread-safe: the call owner's lock covers it.
/// </summary>
public sealed class BargeMode
{
    /// <summary>
    /// One requested change. <see cref="Digit"/> is what goes to FreeSWITCH; for unthreeway it follows the changes
    /// before it until the change is sent (<see cref="Send"/>), so a refusal ahead of it is not replayed.
    /// </summary>
    public sealed class Change
    {
        internal Change(int digit, bool back)
        {
            Digit = digit;
            Back = back;
        }

        public int Digit { get; internal set; }
        internal bool Back { get; }
        internal bool Sent { get; set; }
    }

    private readonly List<Change> _inFlight = [];
    private int _confirmed;
    private int _confirmedBefore;

    /// <summary>The mode once every change in flight is taken.</summary>
    public int Intended { get; private set; }

    /// <summary>What <c>unthreeway</c> returns to, as of <see cref="Intended"/>.</summary>
    public int IntendedBeforeThreeway { get; private set; }

    public int InFlight => _inFlight.Count;

    /// <summary>The mode FreeSWITCH has confirmed, and the one before three-way.</summary>
    public int Confirmed => _confirmed;
    public int ConfirmedBefore => _confirmedBefore;

    /// <summary>A barge taken over: FreeSWITCH's eavesdrop is in the mode the first owner confirmed.</summary>
    public void Restore(int mode, int before)
    {
        _inFlight.Clear();
        _confirmed = mode is 0 or 2 or 3 ? mode : 0;
        _confirmedBefore = before is 0 or 2 ? before : 0;
        Recompute();
    }

    /// <summary>A new barge leg starts muted.</summary>
    public void Reset()
    {
        _inFlight.Clear();
        _confirmed = _confirmedBefore = 0;
        Recompute();
    }

    /// <summary>
    /// Plans a change: a digit (0, 2, 3), or -1 for unthreeway (back to the mode before three-way). Null when
    /// unthreeway is asked outside three-way.
    /// </summary>
    public Change? Plan(int digit)
    {
        if (digit == -1 && Intended != 3) return null;
        var change = new Change(digit == -1 ? IntendedBeforeThreeway : digit, back: digit == -1);
        _inFlight.Add(change);
        Recompute();
        return change;
    }

    /// <summary>The digit to send for the change; fixed from now on.</summary>
    public int Send(Change change)
    {
        change.Sent = true;
        return change.Digit;
    }

    /// <summary>FreeSWITCH took the change.</summary>
    public void Accepted(Change change)
    {
        if (!_inFlight.Remove(change)) return;
        Apply(ref _confirmed, ref _confirmedBefore, change.Digit);
        Recompute();
    }

    /// <summary>FreeSWITCH refused the change, or it was never sent: as if it had not been asked.</summary>
    public void Refused(Change change)
    {
        if (_inFlight.Remove(change)) Recompute();
    }

    /// <summary>A digit the barger pressed on the phone (the eavesdrop acts on it as on ours).</summary>
    /// <returns>Whether the confirmed mode changed.</returns>
    public bool Pressed(int digit)
    {
        if (digit is < 0 or > 3) return false;
        var (mode, before) = (_confirmed, _confirmedBefore);
        Apply(ref _confirmed, ref _confirmedBefore, digit);
        Recompute();
        return (mode, before) != (_confirmed, _confirmedBefore);
    }

    private void Recompute()
    {
        var mode = _confirmed;
        var before = _confirmedBefore;
        foreach (var c in _inFlight)
        {
            if (c.Back && !c.Sent) c.Digit = mode == 3 ? before : mode;
            Apply(ref mode, ref before, c.Digit);
        }
        Intended = mode;
        IntendedBeforeThreeway = before;
    }

    private static void Apply(ref int mode, ref int before, int digit)
    {
        if (digit == 3 && mode != 3) before = mode;
        mode = digit;
    }
}
