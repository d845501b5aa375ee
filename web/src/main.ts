document.getElementById('app')!.textContent = 'Spatial-MLLM';
