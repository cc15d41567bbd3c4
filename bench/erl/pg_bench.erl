%% The BEAM baseline for bench/pg.ts: five erl nodes running OTP's pg, the same workloads as the
%% TS side (bench/support/pg-peer.ts and the driver in bench/pg.ts), timed the same way.
%%
%% Peers run start_peer/0: a process registered as pg_bench that takes
%%   {watch, Driver}            monitor groups prop and mark, answer {watching, node()}; then send
%%                              {seen, Action, Group} to Driver for every join and leave of them
%%   {members, N, Rounds, Driver}  spawn N processes that join group bc, each sends done to
%%                              Driver after every Rounds messages; answer {ready, node()}
%%   {ping, From}               answer pong (the calibration round trip)
%% The driver runs run/6 on the first node and returns
%%   {PropagationSamplesUs, JoinLeaveOpsPerSec, BroadcastMsgPerSec, RoundTripSamplesUs,
%%    {UserTicks, SysTicks, TotalNs}}
%% the CPU time all five nodes spent over the timed propagation samples (the ones after Warmup):
%% user and system clock ticks (/proc/PID/stat), and nanoseconds on CPU of all their threads
%% (/proc/PID/task/TID/schedstat), as bench/support/proc-cpu.ts reads them for the TS nodes.
-module(pg_bench).
-export([start_peer/0, run/6]).

start_peer() ->
    Pid = spawn(fun peer_loop/0),
    register(pg_bench, Pid),
    ok.

peer_loop() ->
    receive
        {watch, Driver} ->
            spawn(fun() -> watch(Driver) end),
            peer_loop();
        {members, N, Rounds, Driver} ->
            spawn_members(N, Rounds, Driver),
            Driver ! {ready, node()},
            peer_loop();
        {ping, From} ->
            From ! pong,
            peer_loop();
        stop ->
            ok
    end.

watch(Driver) ->
    {_, _} = pg:monitor(prop),
    {_, _} = pg:monitor(mark),
    Driver ! {watching, node()},
    watch_loop(Driver).

watch_loop(Driver) ->
    receive
        {_Ref, Action, Group, _Pids} ->
            Driver ! {seen, Action, Group},
            watch_loop(Driver)
    end.

spawn_members(N, Rounds, Driver) ->
    Pids = [spawn(fun() -> member(Rounds, Driver) end) || _ <- lists:seq(1, N)],
    ok = pg:join(bc, Pids).

member(Rounds, Driver) -> member(Rounds, Rounds, Driver).

member(0, Rounds, Driver) -> Driver ! done, member(Rounds, Rounds, Driver);
member(N, Rounds, Driver) -> receive {bc, _} -> member(N - 1, Rounds, Driver) end.

%% Peers: the other four nodes (already connected, start_peer/0 run there).
run(Peers, Warmup, Samples, JoinLeaves, Members, Rounds) ->
    NPeers = length(Peers),
    [{pg_bench, P} ! {watch, self()} || P <- Peers],
    [receive {watching, P} -> ok after 10000 -> error({no_watcher, P}) end || P <- Peers],
    %% And every scope knows ours once a marker join comes back from each.
    wait_marker(NPeers),
    OsPids = [os:getpid() | [erpc:call(P, os, getpid, []) || P <- Peers]],
    Prop0 = propagation(Warmup, NPeers, []),
    Cpu0 = cpu_ticks(OsPids),
    Prop = Prop0 ++ propagation(Samples, NPeers, []),
    {U1, S1, N1} = cpu_ticks(OsPids),
    {U0, S0, N0} = Cpu0,
    JoinLeave = max(join_leave(JoinLeaves, NPeers), join_leave(JoinLeaves, NPeers)),
    Broadcast = broadcast(Peers, Members, Rounds),
    Rtt = rtt(hd(Peers), Warmup + Samples, []),
    {Prop, JoinLeave, Broadcast, Rtt, {U1 - U0, S1 - S0, N1 - N0}}.

%% CPU of these OS processes so far: user and system clock ticks (fields 14 and 15 of stat), and
%% the nanoseconds every thread has run (the first field of each task's schedstat).
cpu_ticks(OsPids) ->
    lists:foldl(
        fun(P, {U, S, N}) ->
            {ok, Bin} = file:read_file("/proc/" ++ P ++ "/stat"),
            [_, Rest] = binary:split(Bin, <<") ">>),
            Fields = binary:split(Rest, <<" ">>, [global]),
            {ok, Tids} = file:list_dir("/proc/" ++ P ++ "/task"),
            {U + binary_to_integer(lists:nth(12, Fields)),
             S + binary_to_integer(lists:nth(13, Fields)),
             N + lists:sum([thread_ns(P, T) || T <- Tids])}
        end,
        {0, 0, 0},
        OsPids
    ).

thread_ns(P, T) ->
    case file:read_file("/proc/" ++ P ++ "/task/" ++ T ++ "/schedstat") of
        {ok, B} -> binary_to_integer(hd(binary:split(B, <<" ">>)));
        {error, _} -> 0
    end.

%% Calibration: a plain message round trip to one peer's control process.
rtt(_Peer, 0, Acc) -> lists:reverse(Acc);
rtt(Peer, K, Acc) ->
    T0 = now_us(),
    {pg_bench, Peer} ! {ping, self()},
    receive pong -> ok end,
    rtt(Peer, K - 1, [now_us() - T0 | Acc]).

wait_marker(NPeers) ->
    ok = pg:join(mark, self()),
    wait_seen(join, mark, NPeers),
    ok = pg:leave(mark, self()),
    wait_seen(leave, mark, NPeers).

wait_seen(_Action, _Group, 0) -> ok;
wait_seen(Action, Group, N) ->
    receive {seen, Action, Group} -> wait_seen(Action, Group, N - 1)
    after 10000 -> error({no_ack, Action, Group})
    end.

now_us() -> erlang:monotonic_time(nanosecond) / 1000.

%% From pg:join/2 until every other node has seen the member (each peer's monitor told its
%% watcher, which acknowledged); then the leave, also waited for, untimed.
propagation(0, _NPeers, Acc) -> lists:reverse(Acc);
propagation(K, NPeers, Acc) ->
    T0 = now_us(),
    ok = pg:join(prop, self()),
    wait_seen(join, prop, NPeers),
    T1 = now_us(),
    ok = pg:leave(prop, self()),
    wait_seen(leave, prop, NPeers),
    propagation(K - 1, NPeers, [T1 - T0 | Acc]).

%% K joins and K leaves of one process, until the last one has reached every node (a marker
%% join after them comes back from each peer): operations per second.
join_leave(K, NPeers) ->
    T0 = now_us(),
    jl(K),
    ok = pg:join(mark, self()),
    wait_seen(join, mark, NPeers),
    T1 = now_us(),
    ok = pg:leave(mark, self()),
    wait_seen(leave, mark, NPeers),
    2 * K * 1.0e6 / (T1 - T0).

jl(0) -> ok;
jl(K) ->
    ok = pg:join(jl, self()),
    ok = pg:leave(jl, self()),
    jl(K - 1).

%% Members processes in group bc, spread evenly over the five nodes; Rounds broadcasts to every
%% member from this node, until every member has them all: messages per second, best of 2.
broadcast(Peers, Members, Rounds) ->
    Per = Members div (length(Peers) + 1),
    Self = self(),
    [{pg_bench, P} ! {members, Per, Rounds, Self} || P <- Peers],
    [receive {ready, P} -> ok after 10000 -> error({no_ready, P}) end || P <- Peers],
    spawn_members(Per, Rounds, Self),
    wait_members(bc, Per * (length(Peers) + 1)),
    Total = length(pg:get_members(bc)),
    max(broadcast_run(Total, Rounds), broadcast_run(Total, Rounds)).

broadcast_run(Total, Rounds) ->
    T0 = now_us(),
    send_rounds(Rounds, 1),
    wait_done(Total),
    T1 = now_us(),
    Total * Rounds * 1.0e6 / (T1 - T0).

wait_members(Group, N) ->
    case length(pg:get_members(Group)) >= N of
        true -> ok;
        false -> receive after 5 -> wait_members(Group, N) end
    end.

send_rounds(0, _I) -> ok;
send_rounds(R, I) ->
    Msg = {bc, I},
    [P ! Msg || P <- pg:get_members(bc)],
    send_rounds(R - 1, I + 1).

wait_done(0) -> ok;
wait_done(N) ->
    receive done -> wait_done(N - 1)
    after 30000 -> error({missing_done, N})
    end.
