import './lib/zod-csp.js';
import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('FaceParts Studio: the page has no #app element');

export default mount(App, { target });
