%% The BEAM baseline for bench/process.ts: the same process workloads, timed the same way
%% (best of Runs, erlang:monotonic_time). One line per case on stdout:
%%   RESULT <case> <value> <unit>
%% Keep the cases in step with `cases` in bench/process.ts.
-module(process_bench).
-export([main/1]).

main([OneWayN, PingPongN, SpawnN, Junk, Runs]) ->
    report('one-way', best(Runs, fun() -> one_way(OneWayN) end), OneWayN, 'msg/s'),
    report('ping-pong', best(Runs, fun() -> ping_pong(PingPongN, 0) end), PingPongN, 'us/round-trip'),
    report('ping-pong-selective', best(Runs, fun() -> ping_pong(PingPongN, Junk) end), PingPongN,
           'us/round-trip'),
    report('spawn-exit', best(Runs, fun() -> spawn_exit(SpawnN) end), SpawnN, 'spawn/s'),
    ok.

report(Case, Micros, N, 'us/round-trip') ->
    io:format("RESULT ~s ~.4f us/round-trip~n", [Case, Micros / N]);
report(Case, Micros, N, Unit) ->
    io:format("RESULT ~s ~.1f ~s~n", [Case, N * 1.0e6 / Micros, Unit]).

best(Runs, Fun) ->
    lists:min([begin
                   T0 = erlang:monotonic_time(microsecond),
                   Fun(),
                   erlang:monotonic_time(microsecond) - T0
               end || _ <- lists:seq(1, Runs)]).

%% A producer sends N {msg, I} to a consumer, which replies done after the last one.
one_way(N) ->
    Self = self(),
    Consumer = spawn(fun() -> consume(N), Self ! done end),
    produce(Consumer, 1, N),
    receive done -> ok end.

produce(_To, I, N) when I > N -> ok;
produce(To, I, N) -> To ! {msg, I}, produce(To, I + 1, N).

consume(0) -> ok;
consume(N) -> receive {msg, _} -> consume(N - 1) end.

%% N round trips between two processes; the pinger first parks Junk unmatched messages in
%% its own mailbox, so each selective receive scans past them.
ping_pong(N, Junk) ->
    Self = self(),
    Ponger = spawn(fun() -> pong() end),
    Pinger = spawn(fun() ->
                           [self() ! {junk, J} || J <- lists:seq(1, Junk)],
                           ping(Ponger, N),
                           Self ! done
                   end),
    receive done -> ok end,
    exit(Ponger, kill),
    _ = Pinger,
    ok.

ping(_Ponger, 0) -> ok;
ping(Ponger, N) ->
    Ponger ! {ping, self()},
    receive pong -> ping(Ponger, N - 1) end.

pong() ->
    receive {ping, From} -> From ! pong, pong() end.

%% N children, each sends done to the parent and returns.
spawn_exit(N) ->
    Self = self(),
    [spawn(fun() -> Self ! child_done end) || _ <- lists:seq(1, N)],
    wait(N).

wait(0) -> ok;
wait(N) -> receive child_done -> wait(N - 1) end.
